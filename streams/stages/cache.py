"""Cache stage core. The foundation looks nothing up: every request is a miss or a skip."""

from __future__ import annotations

from schemas.events import CacheVerdict, StageEvent

__all__ = ["check_cache"]


def check_cache(event: StageEvent) -> CacheVerdict:
    """Streams and tool calls are skipped; everything else is a miss until the cache is built."""
    request = event.envelope.request
    if request.stream or request.tools_json:
        return CacheVerdict(status="skip")
    return CacheVerdict(status="miss")
