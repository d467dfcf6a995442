"""Circuit breaker core: one breaker per deployment, fed by the outcome of every attempt.

    closed --(N consecutive failures, or windowed p95 latency over the threshold)--> open
    open --(open_s elapsed)--> half_open: one probe is let through (the probe lease is shared)
    half_open --(probe succeeds)--> closed
    half_open --(probe fails)--> open again, for another open_s

Only errors that say something about the deployment count (``trips_breaker`` on the error class:
5xx, timeouts, connection errors, overload); a 429 or a bad request does not. Pure: the agent
around it keeps the state in a changelog-backed table and publishes every transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from schemas.config import BreakerConfig
from schemas.errors import error_class_named
from schemas.events import Attempt

__all__ = ["BreakerState", "Transition", "admits", "on_attempt", "p95"]

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True, slots=True)
class BreakerState:
    deployment: str
    state: str = CLOSED
    consecutive_failures: int = 0
    opened_at_us: int = 0
    latencies: tuple[tuple[int, int], ...] = field(default_factory=tuple)  # (at_us, latency_us), newest last
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    before: str
    after: str
    reason: str


def p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0


def _counts_as_failure(attempt: Attempt) -> bool:
    if attempt.ok:
        return False
    return error_class_named(attempt.error_class or "").trips_breaker


def current(state: BreakerState, now_us: int, policy: BreakerConfig) -> str:
    """The state as of ``now_us``: an open breaker whose time is up is half-open."""
    if state.state == OPEN and now_us - state.opened_at_us >= policy.open_s * 1e6:
        return HALF_OPEN
    return state.state


def admits(state: BreakerState | None, now_us: int, policy: BreakerConfig) -> str:
    """``"yes"``, ``"probe"`` (half-open: only one caller may try, see the probe lease) or ``"no"``."""
    if state is None:
        return "yes"
    now = current(state, now_us, policy)
    return {CLOSED: "yes", HALF_OPEN: "probe"}.get(now, "no")


def _open(state: BreakerState, now_us: int, reason: str) -> BreakerState:
    return replace(state, state=OPEN, opened_at_us=now_us, consecutive_failures=0, latencies=(), reason=reason)


def on_attempt(
    state: BreakerState, attempt: Attempt, now_us: int, policy: BreakerConfig
) -> tuple[BreakerState, Transition | None]:
    """The breaker after ``attempt``, and the transition it made, if any."""
    before = current(state, now_us, policy)
    if not attempt.ok and not _counts_as_failure(attempt):
        return state, None  # a 429 or a bad request says nothing about the deployment's health
    failed = not attempt.ok
    samples: tuple[tuple[int, int], ...] = ()
    if policy.latency_p95_ms is not None:  # keep latency samples only when a threshold uses them
        window_start = now_us - int(policy.window_s * 1e6)
        samples = tuple(s for s in state.latencies if s[0] >= window_start)
        if attempt.ok:
            samples = (*samples, (now_us, attempt.latency_us))[-policy.window_max_samples :]
    failures = state.consecutive_failures + 1 if failed else 0
    if before == HALF_OPEN:
        if failed:
            new = _open(state, now_us, f"probe failed: {attempt.error_class}")
            return new, Transition(before, OPEN, new.reason)
        new = replace(state, state=CLOSED, consecutive_failures=0, latencies=(), reason="probe succeeded")
        return new, Transition(before, CLOSED, new.reason)
    if before == OPEN:
        return state, None  # attempts already in flight when it opened
    if failures >= policy.failure_threshold:
        new = _open(state, now_us, f"{failures} consecutive failures, last {attempt.error_class}")
        return new, Transition(before, OPEN, new.reason)
    latency_p95 = p95([lat for _, lat in samples])
    if (
        policy.latency_p95_ms is not None
        and len(samples) >= policy.min_samples
        and latency_p95 > policy.latency_p95_ms * 1000
    ):
        new = _open(state, now_us, f"p95 latency {latency_p95 / 1000:.0f} ms over {policy.latency_p95_ms} ms")
        return new, Transition(before, OPEN, new.reason)
    return replace(state, consecutive_failures=failures, latencies=samples), None
