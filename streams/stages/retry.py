"""Retry and fallback decisions for one request, from the error an attempt ended with.

- ``fallback_trigger``: the name of the condition an error is (rate_limited, overloaded, timeout,
  connection, server_error, auth, context_window, content_policy), or None for an error caused by
  the request itself, which never falls back.
- ``retry_delay_s``: how long to wait before trying the same deployment again (exponential backoff
  with full jitter, or the provider's Retry-After), or None when it should not be retried here:
  not retriable, out of attempts, or the wait would pass the deadline.
"""

from __future__ import annotations

import random

from schemas.config import RetryConfig
from schemas.errors import (
    ContextWindowExceeded,
    GatewayTimeout,
    ProviderAuthError,
    ProviderConnectionError,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    ProviderTimeout,
    TurnoutError,
)

__all__ = ["TRIGGERS", "fallback_trigger", "retry_delay_s"]

# most specific first
_TRIGGER_OF: tuple[tuple[type[TurnoutError], str], ...] = (
    (ContextWindowExceeded, "context_window"),
    (ProviderContentPolicy, "content_policy"),
    (ProviderRateLimited, "rate_limited"),
    (ProviderOverloaded, "overloaded"),
    (ProviderTimeout, "timeout"),
    (ProviderConnectionError, "connection"),
    (ProviderStreamBroken, "server_error"),
    (ProviderAuthError, "auth"),
)
TRIGGERS = frozenset({name for _, name in _TRIGGER_OF} | {"server_error"})


def fallback_trigger(error: TurnoutError) -> str | None:
    if isinstance(error, GatewayTimeout):
        return None  # the request's own deadline passed: no deployment can still answer in time
    for cls, name in _TRIGGER_OF:
        if isinstance(error, cls):
            return name
    if isinstance(error, ProviderError) and error.retriable:
        return "server_error"
    return None


def retry_delay_s(
    error: TurnoutError, tries_so_far: int, policy: RetryConfig, remaining_s: float, rng: random.Random
) -> float | None:
    """Seconds to wait before another try on the same deployment, or None to move on."""
    if not error.retriable or isinstance(error, GatewayTimeout) or tries_so_far >= policy.max_tries:
        return None
    if error.retry_after_s is not None:
        delay = error.retry_after_s
    else:
        ceiling = min(policy.max_delay_ms, policy.base_delay_ms * 2 ** (tries_so_far - 1)) / 1000
        delay = rng.uniform(0, ceiling) if policy.jitter else ceiling
    return delay if delay < remaining_s else None
