"""Route core: the logical model the client named -> a concrete deployment and its fallbacks."""

from __future__ import annotations

from schemas.config import TurnoutConfig
from schemas.errors import ModelNotFound, PermissionDenied
from schemas.events import RouteDecision, StageEvent

__all__ = ["check_model_allowed", "decide_route"]


def check_model_allowed(config: TurnoutConfig, key_id: str, model: str) -> None:
    """Raise unless ``model`` exists and the key ``key_id`` may use it."""
    if model not in config.models:
        raise ModelNotFound(f"The model `{model}` does not exist.", param="model")
    key = next((k for k in config.keys if k.id == key_id), None)
    if key is not None and key.models is not None and model not in key.models:
        raise PermissionDenied(f"This key may not use the model `{model}`.", param="model")


def decide_route(config: TurnoutConfig, event: StageEvent) -> RouteDecision:
    """The first deployment of the logical model serves; the rest are its fallbacks, in order."""
    model_name = event.envelope.request.model
    check_model_allowed(config, event.envelope.caller.key_id, model_name)
    chain = config.models[model_name].deployments
    primary = config.deployments[chain[0]]
    return RouteDecision(
        logical_model=model_name,
        deployment=chain[0],
        provider=primary.provider,
        upstream_model=primary.model,
        reason="primary",
        fallbacks=list(chain[1:]),
    )
