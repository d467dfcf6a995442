"""The cache core of the foundation: a miss or skip."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from schemas.events import CacheVerdict, StageEvent
from streams.stages.cache import check_cache


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
