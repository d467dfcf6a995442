"""Percentiles, latency summaries, paired (per-round) differences and ratios: pure functions."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["LatencySummary", "paired_differences", "percentile", "ratio", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    Same definition as ``numpy.percentile``'s default: rank ``(n - 1) * q / 100``. An empty
    sequence has no percentile (``nan``).
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Milliseconds; ``n`` samples (``nan`` everywhere when there are none)."""

    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float

    def to_dict(self, digits: int = 3) -> dict[str, float | int | None]:
        return {k: _round(v, digits) if isinstance(v, float) else v for k, v in asdict(self).items()}


def _round(value: float, digits: int) -> float | None:
    return None if math.isnan(value) else round(value, digits)


def summarize(values: Sequence[float]) -> LatencySummary:
    if not values:
        nan = math.nan
        return LatencySummary(0, nan, nan, nan, nan, nan, nan)
    return LatencySummary(
        n=len(values),
        mean=math.fsum(values) / len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        min=float(min(values)),
        max=float(max(values)),
    )


def paired_differences(target: Sequence[float | None], baseline: Sequence[float | None]) -> list[float]:
    """``target[i] - baseline[i]`` for each round where both were measured (``None``: failed).

    The sequential runs alternate a gateway and the direct call within each round, so the
    difference of one round is the gateway's added latency with the machine's drift cancelled.
    """
    if len(target) != len(baseline):
        raise ValueError(f"rounds differ: {len(target)} against {len(baseline)}")
    return [t - b for t, b in zip(target, baseline, strict=True) if t is not None and b is not None]


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or ``None`` when either is missing, not finite, or the reference is 0."""
    if value is None or reference is None:
        return None
    if not (math.isfinite(value) and math.isfinite(reference)) or reference == 0:
        return None
    return value / reference
