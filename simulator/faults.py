"""Wire-neutral fault mechanics: delays, hangs, paced and broken streams."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from starlette.requests import Request

from simulator.knobs import Knobs

UVICORN_ERROR_LOGGER = "uvicorn.error"


class SimulatedBreakError(Exception):
    """Raised inside a response body to make the server cut the connection."""


def _is_simulated_break(exc: BaseException | None) -> bool:
    if isinstance(exc, SimulatedBreakError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_simulated_break(inner) for inner in exc.exceptions)
    return False


class BrokenStreamLogFilter(logging.Filter):
    """Drops the server's error log records caused by a deliberate :class:`SimulatedBreakError`."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not _is_simulated_break(exc)


def seconds(ms: float | None) -> float:
    return (ms or 0.0) / 1000.0


async def sleep_ms(ms: float | None) -> None:
    if ms:
        await asyncio.sleep(ms / 1000.0)


async def _wait_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def hang_until_disconnect(request: Request, cap_s: float) -> bool:
    """Wait until the client disconnects (True) or ``cap_s`` elapses (False).

    The request body must have been read already, so the next ASGI message the
    server delivers is ``http.disconnect``.
    """
    try:
        await asyncio.wait_for(_wait_disconnect(request), timeout=cap_s)
    except TimeoutError:
        return False
    return True


def break_index(knobs: Knobs, event_count: int) -> tuple[int | None, int | None]:
    """Indexes (into ``event_count`` events) where to break / send an error, if any.

    A count past the last content event still fires before the final event
    (the terminator, e.g. ``data: [DONE]``), so the stream is always broken.
    """
    last = max(event_count - 1, 0)
    brk = None if knobs.break_after_chunks is None else min(knobs.break_after_chunks, last)
    err = None if knobs.error_after_chunks is None else min(knobs.error_after_chunks, last)
    return brk, err


async def paced_events(
    events: Sequence[bytes],
    knobs: Knobs,
    error_event: Callable[[], bytes],
) -> AsyncIterator[bytes]:
    """Yield ``events`` applying latency, chunk interval, break and in-stream error knobs."""
    interval = seconds(knobs.chunk_interval_ms)
    brk, err = break_index(knobs, len(events))
    await sleep_ms(knobs.latency_ms)
    if knobs.endless and len(events) > 1:
        yield events[0]
        while True:  # until the client goes away (the server stops iterating)
            await asyncio.sleep(interval or 0.05)
            yield events[1]
    for index, event in enumerate(events):
        if index == brk:
            raise SimulatedBreakError(f"simulated broken stream after {index} chunks")
        if index == err:
            yield error_event()
            return
        if index and interval:
            await asyncio.sleep(interval)
        yield event


async def truncated_body(body: bytes) -> AsyncIterator[bytes]:
    """Yield the first half of ``body`` and then cut the connection."""
    yield body[: len(body) // 2]
    raise SimulatedBreakError("simulated broken body")
