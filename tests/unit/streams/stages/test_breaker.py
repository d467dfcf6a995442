"""The circuit breaker core as a table of attempts and what the breaker does."""

from __future__ import annotations

import pytest

from schemas.config import BreakerConfig
from schemas.events import Attempt
from streams.stages.breaker import BreakerState, admits, current, on_attempt, p95

POLICY = BreakerConfig(failure_threshold=3, open_s=10, latency_p95_ms=500, window_s=30, min_samples=5)
S = 1_000_000


def ok(latency_ms: int = 50) -> Attempt:
    return Attempt(deployment="d", provider="p", ok=True, started_at_us=0, latency_us=latency_ms * 1000)


def failed(error_class: str = "ProviderOverloaded") -> Attempt:
    return Attempt(deployment="d", provider="p", ok=False, started_at_us=0, latency_us=1000, error_class=error_class)


def run(attempts: list[Attempt], start: BreakerState | None = None, step_us: int = S) -> tuple[BreakerState, list]:
    state = start or BreakerState("d")
    transitions = []
    for i, attempt in enumerate(attempts):
        state, transition = on_attempt(state, attempt, (i + 1) * step_us, POLICY)
        if transition:
            transitions.append(transition)
    return state, transitions


def test_consecutive_failures_open_it() -> None:
    state, transitions = run([failed(), failed(), failed()])
    assert state.state == "open" and [(t.before, t.after) for t in transitions] == [("closed", "open")]
    assert "3 consecutive failures" in transitions[0].reason


def test_a_success_resets_the_count() -> None:
    state, transitions = run([failed(), failed(), ok(), failed(), failed()])
    assert state.state == "closed" and transitions == [] and state.consecutive_failures == 2


@pytest.mark.parametrize("error_class", ["ProviderRateLimited", "ProviderBadRequest", "InvalidRequest"])
def test_errors_that_say_nothing_about_the_deployment_do_not_count(error_class: str) -> None:
    state, transitions = run([failed(error_class)] * 10)
    assert state.state == "closed" and transitions == []


@pytest.mark.parametrize(
    "error_class", ["ProviderError", "ProviderTimeout", "ProviderConnectionError", "ProviderStreamBroken"]
)
def test_errors_that_trip(error_class: str) -> None:
    assert run([failed(error_class)] * 3)[0].state == "open"


def test_slow_p95_opens_it_once_there_are_enough_samples() -> None:
    state, transitions = run([ok(900)] * 4)
    assert state.state == "closed"  # 4 samples < min_samples
    state, transitions = run([ok(900)] * 5)
    assert state.state == "open" and "p95 latency 900 ms" in transitions[0].reason


def test_old_latency_samples_leave_the_window() -> None:
    slow, _ = run([ok(900)] * 4)
    # the next fast sample arrives 60 s later: the slow ones are outside the 30 s window
    state, transition = on_attempt(slow, ok(10), 4 * S + 60 * S, POLICY)
    assert transition is None and len(state.latencies) == 1


def test_open_then_half_open_probe_then_closed() -> None:
    state, _ = run([failed()] * 3)
    opened = state.opened_at_us
    assert admits(state, opened + 9 * S, POLICY) == "no"
    assert current(state, opened + 10 * S, POLICY) == "half_open"
    assert admits(state, opened + 10 * S, POLICY) == "probe"
    closed, transition = on_attempt(state, ok(), opened + 11 * S, POLICY)
    assert (
        closed.state == "closed"
        and transition is not None
        and (transition.before, transition.after) == ("half_open", "closed")
    )
    assert admits(closed, opened + 11 * S, POLICY) == "yes"


def test_a_failed_probe_opens_it_again_for_another_period() -> None:
    state, _ = run([failed()] * 3)
    reopened, transition = on_attempt(state, failed(), state.opened_at_us + 12 * S, POLICY)
    assert reopened.state == "open" and reopened.opened_at_us == state.opened_at_us + 12 * S
    assert transition is not None and transition.after == "open" and "probe failed" in transition.reason


def test_attempts_in_flight_while_open_change_nothing() -> None:
    state, _ = run([failed()] * 3)
    again, transition = on_attempt(state, failed(), state.opened_at_us + S, POLICY)
    assert again == state and transition is None


def test_unknown_deployment_is_admitted() -> None:
    assert admits(None, 0, POLICY) == "yes"


@pytest.mark.parametrize(("values", "expected"), [([], 0), ([5], 5), (list(range(1, 101)), 96)])
def test_p95(values: list[int], expected: int) -> None:
    assert p95(values) == expected
