"""Findings and overlap resolution: the more specific type wins, then the longer span."""

from __future__ import annotations

import pytest

from streams.guards.findings import ALL_TYPES, Finding, resolve_overlaps


def test_a_finding_is_a_non_empty_span() -> None:
    assert Finding("EMAIL", 4, 10).value("to: a@b.io now") == "a@b.io"
    with pytest.raises(ValueError, match="start < end"):
        Finding("EMAIL", 4, 4)


@pytest.mark.parametrize(
    ("findings", "kept"),
    [
        pytest.param(
            [Finding("EMAIL", 5, 30), Finding("PASSWORD", 5, 14)],
            [Finding("PASSWORD", 5, 14)],
            id="specific-beats-long",
        ),
        pytest.param(
            [Finding("PHONE", 0, 10), Finding("PHONE", 2, 14)], [Finding("PHONE", 2, 14)], id="longer-of-a-kind"
        ),
        pytest.param(
            [Finding("IBAN", 0, 22), Finding("PHONE", 12, 20)], [Finding("IBAN", 0, 22)], id="checksum-beats-shape"
        ),
        pytest.param(
            [Finding("EMAIL", 20, 30), Finding("PHONE", 0, 10), Finding("PHONE", 0, 10)],
            [Finding("PHONE", 0, 10), Finding("EMAIL", 20, 30)],
            id="sorted-and-deduplicated",
        ),
        pytest.param(
            [Finding("API_KEY", 0, 5), Finding("BANNED", 5, 9)],
            [Finding("API_KEY", 0, 5), Finding("BANNED", 5, 9)],
            id="touching-is-not-overlapping",
        ),
    ],
)
def test_resolve_overlaps(findings: list[Finding], kept: list[Finding]) -> None:
    assert resolve_overlaps(findings) == kept


def test_all_types() -> None:
    assert sorted(ALL_TYPES) == [
        "API_KEY", "CREDIT_CARD", "EMAIL", "IBAN", "IP_ADDRESS", "PASSWORD", "PHONE", "PRIVATE_KEY", "US_SSN"
    ]  # fmt: skip
