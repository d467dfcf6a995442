"""Cache stage core. The foundation looks nothing up: every request is a miss or a skip."""

from __future__ import annotations

from schemas.events import CacheVerdict, StageEvent

__all__ = ["check_cache"]


def check_cache(event: StageEvent) -> CacheVerdict:
    """Streams, tool calls and embeddings are skipped; everything else is a miss until the cache is built."""
    request = event.envelope.request
    if request.stream or request.tools_json or event.envelope.embeddings is not None:
        return CacheVerdict(status="skip")
    return CacheVerdict(status="miss")
