"""Retry delays and fallback triggers, as tables."""

from __future__ import annotations

import random

import pytest

from schemas.config import RetryConfig
from schemas.errors import (
    ContextWindowExceeded,
    GatewayTimeout,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderConnectionError,
    ProviderContentPolicy,
    ProviderError,
    ProviderOverloaded,
    ProviderRateLimited,
    ProviderStreamBroken,
    ProviderTimeout,
    TurnoutError,
)
from streams.stages.retry import fallback_trigger, retry_delay_s

POLICY = RetryConfig(max_tries=3, base_delay_ms=100, max_delay_ms=1000, jitter=False)


@pytest.mark.parametrize(
    ("error", "trigger"),
    [
        (ProviderRateLimited("x"), "rate_limited"),
        (ProviderOverloaded("x"), "overloaded"),
        (ProviderTimeout("x"), "timeout"),
        (GatewayTimeout("x"), None),
        (ProviderConnectionError("x"), "connection"),
        (ProviderError("x"), "server_error"),
        (ProviderStreamBroken("x"), "server_error"),
        (ProviderAuthError("x"), "auth"),
        (ContextWindowExceeded("x"), "context_window"),
        (ProviderContentPolicy("x"), "content_policy"),
        (ProviderBadRequest("x"), None),
        (TurnoutError("x"), None),
    ],
)
def test_fallback_trigger(error: TurnoutError, trigger: str | None) -> None:
    assert fallback_trigger(error) == trigger


@pytest.mark.parametrize(("tries", "delay"), [(1, 0.1), (2, 0.2), (3, None)])
def test_exponential_backoff_until_out_of_tries(tries: int, delay: float | None) -> None:
    assert retry_delay_s(ProviderOverloaded("x"), tries, POLICY, 60, random.Random(1)) == delay


def test_backoff_is_capped() -> None:
    policy = RetryConfig(max_tries=10, base_delay_ms=100, max_delay_ms=300, jitter=False)
    assert retry_delay_s(ProviderError("x"), 6, policy, 60, random.Random(1)) == 0.3


def test_full_jitter_stays_under_the_ceiling() -> None:
    policy = RetryConfig(max_tries=5, base_delay_ms=100, max_delay_ms=1000, jitter=True)
    rng = random.Random(7)
    delays = [retry_delay_s(ProviderError("x"), 3, policy, 60, rng) for _ in range(200)]
    assert all(d is not None and 0 <= d <= 0.4 for d in delays) and len(set(delays)) > 100


def test_retry_after_is_honoured_and_moves_on_when_past_the_deadline() -> None:
    limited = ProviderRateLimited("x", retry_after_s=2.0)
    assert retry_delay_s(limited, 1, POLICY, remaining_s=10, rng=random.Random(1)) == 2.0
    assert retry_delay_s(limited, 1, POLICY, remaining_s=1.5, rng=random.Random(1)) is None


@pytest.mark.parametrize("error", [ProviderBadRequest("x"), ProviderAuthError("x"), GatewayTimeout("x")])
def test_not_retried(error: TurnoutError) -> None:
    assert retry_delay_s(error, 1, POLICY, 60, random.Random(1)) is None
