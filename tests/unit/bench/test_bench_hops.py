"""bench.hops: a request's time split into stages, the Kafka hops between them and the reply."""

from __future__ import annotations

import pytest

from bench.hops import breakdown


def span(name: str, start: int, end: int) -> dict[str, object]:
    return {"name": name, "start_us": start, "end_us": end}


def test_the_parts_of_a_split_request_add_up_to_its_total() -> None:
    spans = [
        span("turnout.request", 1_000, 9_000),  # received at 1 ms, answered at 9 ms
        span("stage cache", 4_000, 4_100),  # out of order on purpose: stages are sorted by start
        span("stage input_guard", 2_500, 3_000),
        span("stage invoke", 6_000, 7_500),
        span("provider simulator", 6_200, 7_200),
    ]
    parts = breakdown(sent_us=600, received_us=11_000, spans=spans)
    assert parts == pytest.approx(
        {
            "client -> ingress": 0.4,
            "hop -> input_guard": 1.5,
            "stage input_guard": 0.5,
            "hop -> cache": 1.0,
            "stage cache": 0.1,
            "hop -> invoke": 1.9,
            "stage invoke": 1.5,
            "provider": 1.0,
            "-> output_guard answered": 1.5,
            "reply -> client": 2.0,
            "total": 10.4,
        }
    )
    # the provider's time is inside the invoke stage: everything else adds up to the total
    assert sum(v for k, v in parts.items() if k not in ("provider", "total")) == pytest.approx(parts["total"])


def test_a_request_without_its_own_span_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"turnout\.request"):
        breakdown(0, 1, [span("stage invoke", 0, 1)])
