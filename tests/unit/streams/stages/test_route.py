"""Route core: a logical model -> its primary deployment and fallbacks, or a 404 / 403."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from schemas.config import TurnoutConfig, parse_config
from schemas.errors import ModelNotFound, PermissionDenied, TurnoutError
from schemas.events import RouteDecision, StageEvent
from streams.stages.route import check_model_allowed, decide_route


@pytest.fixture
def chained(example_data: dict[str, Any]) -> TurnoutConfig:
    example_data["providers"]["backup"] = {"base_url": "http://backup/v1"}
    example_data["deployments"]["backup-4o"] = {"provider": "backup", "model": "gpt-4o-backup"}
    example_data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o", "backup-4o", "sim-gpt-4o-mini"]
    return parse_config(example_data)


def test_a_single_deployment_model(example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]) -> None:
    assert decide_route(example_config, stage_event(model="best-cheap-chat")) == RouteDecision(
        logical_model="best-cheap-chat",
        deployment="sim-gpt-4o-mini",
        provider="simulator",
        upstream_model="gpt-4o-mini",
        reason="primary",
        fallbacks=[],
    )


def test_the_primary_serves_and_the_rest_are_fallbacks_in_order(
    chained: TurnoutConfig, stage_event: Callable[..., StageEvent]
) -> None:
    assert decide_route(chained, stage_event(model="smart-chat")) == RouteDecision(
        logical_model="smart-chat",
        deployment="sim-gpt-4o",
        provider="simulator",
        upstream_model="gpt-4o",
        reason="primary",
        fallbacks=["backup-4o", "sim-gpt-4o-mini"],
    )


@pytest.mark.parametrize(
    ("model", "key_id", "error", "status", "message"),
    [
        ("gpt-5", "demo", ModelNotFound, 404, "The model `gpt-5` does not exist."),
        ("Smart-Chat", "demo", ModelNotFound, 404, "The model `Smart-Chat` does not exist."),
        ("gpt-5", "team-b", ModelNotFound, 404, "The model `gpt-5` does not exist."),
        ("smart-chat", "team-b", PermissionDenied, 403, "This key may not use the model `smart-chat`."),
    ],
)
def test_unknown_and_forbidden_models_are_refused(
    example_config: TurnoutConfig,
    stage_event: Callable[..., StageEvent],
    model: str,
    key_id: str,
    error: type[TurnoutError],
    status: int,
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        decide_route(example_config, stage_event(model=model, key_id=key_id))
    assert caught.value.status == status
    assert caught.value.param == "model"
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("key_id", "model"),
    [("team-b", "best-cheap-chat"), ("demo", "smart-chat"), ("demo", "best-cheap-chat")],
)
def test_allowed_models_pass(example_config: TurnoutConfig, key_id: str, model: str) -> None:
    check_model_allowed(example_config, key_id, model)  # raises nothing
