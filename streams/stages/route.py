"""Route core: the logical model the client named -> the logical model that serves it -> a concrete
deployment and its fallbacks.

A logical model without ``routing`` serves itself. With ``routing`` (``schemas.config.RoutingConfig``)
the first policy that applies picks the serving model: the caller's tier, then a weighted A/B split
(sticky per user: the same user always lands on the same side), then complexity (a request the
classifier scores below the threshold goes to the ``simple`` model). Budget state acted earlier
(the input guard's auto-downgrade) and breaker state acts later (the invoker skips open breakers
and falls back). The decision, its score and the reason are in the event and the ClickHouse row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from schemas.config import RoutingConfig, TurnoutConfig
from schemas.errors import ModelNotFound, PermissionDenied
from schemas.events import Caller, ChatRequest, RouteDecision, StageEvent
from streams.routing.classifier import ComplexityModel

__all__ = ["ModelChoice", "check_model_allowed", "choose_model", "decide_route"]


def check_model_allowed(config: TurnoutConfig, key_id: str, model: str) -> None:
    """Raise unless ``model`` exists and the key ``key_id`` may use it."""
    if model not in config.models:
        raise ModelNotFound(f"The model `{model}` does not exist.", param="model")
    key = next((k for k in config.keys if k.id == key_id), None)
    if key is not None and key.models is not None and model not in key.models:
        raise PermissionDenied(f"This key may not use the model `{model}`.", param="model")


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The logical model that serves, why (``primary``, ``tier:free``, ``weight``, ``complex``,
    ``simple``), and the complexity score when the classifier ran."""

    model: str
    reason: str
    score: float | None = None


def _sticky_share(user: str, model: str) -> float:
    """A user's place in [0, 1) for a model's A/B split: the same every time, spread evenly."""
    digest = hashlib.blake2b(f"{model}\x00{user}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def choose_model(
    name: str,
    routing: RoutingConfig | None,
    caller: Caller,
    request: ChatRequest,
    complexity: ComplexityModel | None,
) -> ModelChoice:
    if routing is None:
        return ModelChoice(name, "primary")
    if caller.tier in routing.tiers:
        return ModelChoice(routing.tiers[caller.tier], f"tier:{caller.tier}")
    if routing.weights:
        share = _sticky_share(f"{caller.tenant}/{caller.user}", name) * sum(routing.weights.values())
        for target, weight in routing.weights.items():
            share -= weight
            if share < 0:
                return ModelChoice(target, "weight")
    if routing.simple is not None and complexity is not None:
        decision = complexity.decide_request(request)
        threshold = routing.complexity_threshold
        is_complex = decision.complex if threshold is None else decision.score >= threshold
        if not is_complex:
            return ModelChoice(routing.simple, "simple", decision.score)
        return ModelChoice(name, "complex", decision.score)
    return ModelChoice(name, "primary")


def decide_route(config: TurnoutConfig, event: StageEvent, complexity: ComplexityModel | None = None) -> RouteDecision:
    """The serving model's first deployment serves; the rest are its fallbacks, in order."""
    envelope = event.envelope
    requested = envelope.request.model
    check_model_allowed(config, envelope.caller.key_id, requested)
    choice = choose_model(requested, config.models[requested].routing, envelope.caller, envelope.request, complexity)
    chain = config.models[choice.model].deployments
    primary = config.deployments[chain[0]]
    return RouteDecision(
        logical_model=choice.model,
        deployment=chain[0],
        provider=primary.provider,
        upstream_model=primary.model,
        reason=choice.reason,
        fallbacks=list(chain[1:]),
        score=choice.score,
    )
