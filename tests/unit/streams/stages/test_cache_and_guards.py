"""The cache and guard cores of the foundation: a miss or skip, and a pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from schemas.events import CacheVerdict, ChatResponse, GuardVerdict, StageEvent, Usage
from streams.stages.cache import check_cache
from streams.stages.input_guard import check_input
from streams.stages.output_guard import check_output


@pytest.mark.parametrize(
    ("request_fields", "status"),
    [
        ({}, "miss"),
        ({"temperature": 0.0, "seed": 1}, "miss"),
        ({"stream": True}, "skip"),
        ({"tools_json": '[{"type":"function","function":{"name":"f"}}]'}, "skip"),
        ({"stream": True, "tools_json": "[]"}, "skip"),
    ],
)
def test_check_cache(stage_event: Callable[..., StageEvent], request_fields: dict[str, Any], status: str) -> None:
    assert check_cache(stage_event(request=request_fields)) == CacheVerdict(status=status)


def test_the_guards_pass_everything(stage_event: Callable[..., StageEvent]) -> None:
    assert check_input(stage_event()) == GuardVerdict(action="pass", findings=[])
    response = ChatResponse(id="x", content="hi", finish_reason="stop", usage=Usage(), upstream_model="m", created=0)
    assert check_output(response) == GuardVerdict(action="pass", findings=[])
