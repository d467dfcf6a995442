"""W3C traceparent parsing, and the spans a request record makes."""

from __future__ import annotations

import pytest

from schemas.events import Attempt, Caller, RequestRecord, StageTiming, Usage
from sinks.rows import span_rows
from streams.tracing import new_trace_id, parse_traceparent, request_span_id, span_id, traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        (f"00-{TRACE}-{PARENT}-01", (TRACE, PARENT)),
        (f"00-{TRACE.upper()}-{PARENT}-00", (TRACE, PARENT)),
        (f"01-{TRACE}-{PARENT}-01-extra", (TRACE, PARENT)),  # a later version may add fields
        (f"00-{TRACE}-{PARENT}-01-extra", None),  # version 00 may not
        (f"ff-{TRACE}-{PARENT}-01", None),
        (f"00-{'0' * 32}-{PARENT}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE[:-1]}-{PARENT}-01", None),
        ("garbage", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_traceparent(header: str | None, parsed: tuple[str, str] | None) -> None:
    assert parse_traceparent(header) == parsed


def test_ids() -> None:
    assert len(new_trace_id()) == 32 and new_trace_id() != new_trace_id()
    assert span_id("r1", "stage", "cache") == span_id("r1", "stage", "cache") != span_id("r2", "stage", "cache")
    assert len(request_span_id("r1")) == 16
    assert traceparent(TRACE, PARENT) == f"00-{TRACE}-{PARENT}-01"
    assert parse_traceparent(traceparent(TRACE, request_span_id("r1"))) == (TRACE, request_span_id("r1"))


def test_a_record_makes_a_root_span_a_span_per_stage_and_per_attempt() -> None:
    t0 = 1_700_000_000_000_000
    record = RequestRecord(
        request_id="r1",
        caller=Caller("acme", "t", "u", "paid", "k"),
        source="http",
        received_at_us=t0,
        finished_at_us=t0 + 900,
        logical_model="smart-chat",
        status=200,
        usage=Usage(),
        total_us=900,
        deployment="b",
        attempts=[
            Attempt("a", "openai", False, t0 + 100, 200, error_class="ProviderOverloaded", http_status=503),
            Attempt("b", "anthropic", True, t0 + 350, 400),
        ],
        trace_id=TRACE,
        parent_span_id=PARENT,
        stages=[StageTiming("input_guard", t0 + 10, t0 + 40), StageTiming("cache", t0 + 50, t0 + 60)],
    )
    rows = span_rows(record)
    names = [r[5] for r in rows]
    assert names == ["turnout.request", "stage input_guard", "stage cache", "provider openai", "provider anthropic"]
    root = rows[0]
    assert (root[0], root[1], root[2], root[8], root[9]) == (TRACE, request_span_id("r1"), PARENT, 900, "ok")
    assert all(r[0] == TRACE and r[2] == request_span_id("r1") for r in rows[1:])
    assert len({r[1] for r in rows}) == 5
    failed = rows[3]
    assert (failed[8], failed[9], failed[10]["http_status"], failed[10]["deployment"]) == (200, "error", "503", "a")
    assert span_rows(RequestRecord("r", record.caller, "http", 0, 0, "m", 200, Usage(), 0)) == []
