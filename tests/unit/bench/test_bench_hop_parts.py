"""bench.hop_parts: a Kafka hop between two stages taken apart from the traced aiokafka events."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.hop_parts import TraceEvent, hop_parts, read_trace


def span(name: str, start: int, end: int) -> dict[str, object]:
    return {"name": name, "start_us": start, "end_us": end}


def test_each_hop_splits_into_the_producer_the_broker_and_the_consumer() -> None:
    spans = [
        span("turnout.request", 1_000, 9_000),
        span("stage input_guard", 3_000, 3_500),
        span("stage cache", 6_000, 6_100),
    ]
    events = [
        TraceEvent(1_200, 11, "fetch-answer"),  # worker 11: an empty answer, before the request's
        TraceEvent(2_000, 11, "fetch-answer"),
        TraceEvent(2_300, 11, "fetch-records"),
        TraceEvent(3_700, 11, "produce-sent"),  # input_guard's output
        TraceEvent(4_000, 11, "fetch-answer"),  # worker 11's own next fetch, empty
        TraceEvent(4_500, 12, "fetch-answer"),  # worker 12 gets the output
        TraceEvent(4_800, 12, "fetch-records"),
        TraceEvent(6_050, 12, "produce-sent"),  # cache's output: after the hop, not part of it
    ]
    parts = {name: values for name, [values] in hop_parts([spans], events).items()}  # one request: one value
    assert parts == pytest.approx(
        {
            "-> input_guard: ingress -> fetch answer read": 1.0,
            "-> input_guard: fetch answer read -> records": 0.3,
            "-> input_guard: records -> stage start": 0.7,
            "-> cache: stage end -> produce sent": 0.2,
            "-> cache: produce sent -> fetch answer read": 0.8,  # worker 12's answer, not 11's
            "-> cache: fetch answer read -> records": 0.3,
            "-> cache: records -> stage start": 1.2,
        }
    )


def test_a_hop_without_its_traced_events_is_left_out() -> None:
    spans = [
        span("turnout.request", 0, 9_000),
        span("stage input_guard", 1_000, 1_500),
        span("stage cache", 3_000, 3_100),
    ]
    # the output was produced (untraced: another client) and arrived; only the records are seen
    parts = hop_parts([spans], [TraceEvent(2_000, 12, "fetch-records")])
    assert parts == {}


def test_the_trace_files_are_read_in_time_order_across_processes(tmp_path: Path) -> None:
    (tmp_path / "11.log").write_text("# -m worker\n300 produce-sent\n100 fetch-answer 134\n")
    (tmp_path / "12.log").write_text("# -m worker\n200 fetch-records\n")
    assert read_trace(tmp_path) == [
        TraceEvent(100, 11, "fetch-answer"),
        TraceEvent(200, 12, "fetch-records"),
        TraceEvent(300, 11, "produce-sent"),
    ]
