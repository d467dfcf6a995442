"""Events and config shared by the stage, pipeline and invoker tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemas.config
from schemas.config import TurnoutConfig, load_config
from schemas.events import Caller, ChatMessage, ChatRequest, RequestEvent, StageEvent

EXAMPLE = Path(schemas.config.__file__).resolve().parents[1] / "config" / "turnout.yaml"
RECEIVED_US = 1_700_000_000_000_000


@pytest.fixture(scope="session")
def example_config() -> TurnoutConfig:
    return load_config(EXAMPLE)


@pytest.fixture
def example_data() -> dict[str, Any]:
    """The example config as plain data, to change before ``parse_config``."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


@pytest.fixture
def stage_event() -> Callable[..., StageEvent]:
    """A request as the first stage sees it; keyword arguments override the request, caller or event."""

    def make(
        *,
        model: str = "smart-chat",
        key_id: str = "demo",
        deadline_at_us: int = RECEIVED_US + 60_000_000,
        request: dict[str, Any] | None = None,
        **event_fields: Any,
    ) -> StageEvent:
        chat = ChatRequest(model=model, messages=[ChatMessage(role="user", content="Hello")])
        envelope = RequestEvent(
            request_id="req-1",
            reply_to="turnout.replies.gw-1",
            source="http",
            received_at_us=RECEIVED_US,
            deadline_at_us=deadline_at_us,
            caller=Caller(tenant="acme", team="platform", user="demo-user", tier="paid", key_id=key_id),
            request=replace(chat, **(request or {})),
        )
        return StageEvent(stage="ingress", envelope=envelope, **event_fields)

    return make
