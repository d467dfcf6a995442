"""Wire-neutral fault mechanics."""

from __future__ import annotations

import logging

import pytest

from simulator.faults import (
    BrokenStreamLogFilter,
    SimulatedBreakError,
    break_index,
    paced_events,
    truncated_body,
)
from simulator.knobs import Knobs

EVENTS = [b"a", b"b", b"c", b"[DONE]"]


async def collect(knobs: Knobs) -> list[bytes]:
    return [event async for event in paced_events(EVENTS, knobs, lambda: b"error")]


def test_break_index_is_clamped_before_the_terminator() -> None:
    assert break_index(Knobs(), 4) == (None, None)
    assert break_index(Knobs(break_after_chunks=2, error_after_chunks=9), 4) == (2, 3)


@pytest.mark.asyncio
async def test_paced_events_plain() -> None:
    assert await collect(Knobs(chunk_interval_ms=1)) == EVENTS


@pytest.mark.asyncio
async def test_paced_events_error_after_chunks() -> None:
    assert await collect(Knobs(error_after_chunks=2)) == [b"a", b"b", b"error"]


@pytest.mark.asyncio
async def test_paced_events_break_after_chunks() -> None:
    received: list[bytes] = []
    with pytest.raises(SimulatedBreakError):
        async for event in paced_events(EVENTS, Knobs(break_after_chunks=1), lambda: b"error"):
            received.append(event)
    assert received == [b"a"]


@pytest.mark.asyncio
async def test_truncated_body() -> None:
    received: list[bytes] = []
    with pytest.raises(SimulatedBreakError):
        async for part in truncated_body(b"0123456789"):
            received.append(part)
    assert received == [b"01234"]


def record_with(exc: BaseException | None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "boom", None, exc_info)


def test_log_filter_drops_only_simulated_breaks() -> None:
    log_filter = BrokenStreamLogFilter()
    assert not log_filter.filter(record_with(SimulatedBreakError()))
    assert not log_filter.filter(record_with(ExceptionGroup("g", [SimulatedBreakError()])))
    assert log_filter.filter(record_with(ExceptionGroup("g", [SimulatedBreakError(), ValueError()])))
    assert log_filter.filter(record_with(ValueError()))
    assert log_filter.filter(record_with(None))
