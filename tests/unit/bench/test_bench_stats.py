"""Percentiles, summaries, per-round differences and ratios of the benchmark."""

from __future__ import annotations

import math

import pytest

from bench.stats import paired_differences, percentile, ratio, summarize


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order does not matter
        ([1.0, 2.0, 3.0, 4.0, 5.0], 50, 3.0),
        ([float(i) for i in range(1, 101)], 99, 99.01),
        ([10.0, 20.0], 25, 12.5),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


@pytest.mark.parametrize("q", [-1, 100.5])
def test_percentile_outside_0_100_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], q)


def test_summary_of_samples() -> None:
    s = summarize([3.0, 1.0, 2.0, 4.0])
    assert (s.n, s.min, s.max, s.mean, s.p50) == (4, 1.0, 4.0, 2.5, 2.5)
    assert s.p90 == pytest.approx(3.7)
    assert s.to_dict() == {"n": 4, "mean": 2.5, "p50": 2.5, "p90": 3.7, "p99": 3.97, "min": 1.0, "max": 4.0}


def test_summary_of_nothing_is_empty_not_zero() -> None:
    s = summarize([])
    assert s.n == 0
    assert s.to_dict() == {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "min": None, "max": None}


def test_paired_differences_skip_rounds_where_either_failed() -> None:
    gateway = [12.0, None, 15.0, 11.0]
    direct = [2.0, 2.0, None, 1.0]
    assert paired_differences(gateway, direct) == [10.0, 10.0]


def test_paired_differences_need_the_same_rounds() -> None:
    with pytest.raises(ValueError, match="rounds differ"):
        paired_differences([1.0, 2.0], [1.0])


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        (6.0, 3.0, 2.0),
        (1.5, 3.0, 0.5),
        (0.0, 3.0, 0.0),
        (3.0, 0.0, None),
        (None, 3.0, None),
        (3.0, None, None),
        (math.nan, 3.0, None),
        (3.0, math.inf, None),
    ],
)
def test_ratio(value: float | None, reference: float | None, expected: float | None) -> None:
    assert ratio(value, reference) == expected
