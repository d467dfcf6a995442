"""One Kafka hop between two stages, taken apart: the producer's side, the broker, the consumer's side.

``python -m bench.hops --trace`` runs the stack with ``bench/hop_trace`` on its ``PYTHONPATH``: every
process then logs when aiokafka writes a produce request, reads a fetch answer and has taken apart
a fetch answer that held records (``bench/hop_trace/sitecustomize.py``). With the spans (each
stage's start and end, on the same wall clock), a hop from stage S to stage N splits into:

- ``stage end -> produce sent``: S's output encoded and queued, and the producer's task woken to
  write it (what else the loop runs first counts here),
- ``produce sent -> fetch answer read``: the broker's part (the write, the append, the answer to
  the fetch that waited) and the consumer's socket read,
- ``fetch answer read -> records``: aiokafka decoding the fetch answer,
- ``records -> stage start``: faust taking the records, its conductor, the agent's stream, the
  event's decoding, up to N's start.

The first hop (ingress to the first stage) has no traced produce (the gateway's producer is
librdkafka): it splits into ``ingress -> fetch answer read`` and the two consumer parts.

In a run of sequential requests the next produce after a stage's end is its output and the next
fetch answer with records is that output arriving; each hop is looked for only between S's end and
N's start.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = ["TraceEvent", "hop_parts", "read_trace"]

PRODUCED = "produce sent"
BROKER = "produce sent -> fetch answer read"
DECODED = "fetch answer read -> records"
DISPATCHED = "records -> stage start"


@dataclass(frozen=True, order=True)
class TraceEvent:
    at_us: int
    pid: int
    kind: str  # produce-sent, fetch-answer, fetch-records


def read_trace(folder: Path) -> list[TraceEvent]:
    """Every process's events from ``folder`` (``<pid>.log`` files), in time order."""
    events = []
    for path in folder.glob("*.log"):
        pid = int(path.stem)
        for line in path.read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            at, kind, *_ = line.split()
            events.append(TraceEvent(int(at), pid, kind))
    return sorted(events)


class _Timeline:
    def __init__(self, events: Sequence[TraceEvent]) -> None:
        self._events = events
        self._times = [e.at_us for e in events]

    def first(self, kind: str, after: float, before: float, pid: int | None = None) -> TraceEvent | None:
        for event in self._events[bisect.bisect_left(self._times, after) :]:
            if event.at_us > before:
                return None
            if event.kind == kind and (pid is None or event.pid == pid):
                return event
        return None

    def last(self, kind: str, after: float, before: float, pid: int) -> TraceEvent | None:
        end = bisect.bisect_right(self._times, before)
        for event in reversed(self._events[:end]):
            if event.at_us < after:
                return None
            if event.kind == kind and event.pid == pid:
                return event
        return None


def _hop(timeline: _Timeline, after: float, before: float, *, traced_produce: bool) -> tuple[float, int, int] | None:
    """(produce sent, fetch answer read, records) of the one hop between ``after`` and ``before``;
    without a traced produce the first is ``after``."""
    produced = after
    if traced_produce:
        event = timeline.first("produce-sent", after, before)
        if event is None:
            return None
        produced = event.at_us
    records = timeline.first("fetch-records", produced, before)
    if records is None:
        return None
    answer = timeline.last("fetch-answer", produced, records.at_us, records.pid)
    if answer is None:
        return None
    return produced, answer.at_us, records.at_us


def hop_parts(requests: Iterable[list[dict[str, Any]]], events: Sequence[TraceEvent]) -> dict[str, list[float]]:
    """Each hop's parts in ms, over the requests' spans (``name``, ``start_us``, ``end_us``)."""
    timeline = _Timeline(events)
    parts: dict[str, list[float]] = defaultdict(list)
    for spans in requests:
        request = next((s for s in spans if s["name"] == "turnout.request"), None)
        stages = sorted((s for s in spans if s["name"].startswith("stage ")), key=lambda s: s["start_us"])
        if request is None or not stages:
            continue
        first = stages[0]
        hop = _hop(timeline, request["start_us"], first["start_us"], traced_produce=False)
        if hop is not None:
            answer, records = hop[1], hop[2]
            label = f"-> {first['name'].removeprefix('stage ')}"
            parts[f"{label}: ingress -> fetch answer read"].append((answer - request["start_us"]) / 1000)
            parts[f"{label}: {DECODED}"].append((records - answer) / 1000)
            parts[f"{label}: {DISPATCHED}"].append((first["start_us"] - records) / 1000)
        for stage, following in pairwise(stages):
            end, start = stage["end_us"], following["start_us"]
            hop = _hop(timeline, end, start, traced_produce=True)
            if hop is None:
                continue
            produced, answer, records = hop
            label = f"-> {following['name'].removeprefix('stage ')}"
            parts[f"{label}: stage end -> {PRODUCED}"].append((produced - end) / 1000)
            parts[f"{label}: {BROKER}"].append((answer - produced) / 1000)
            parts[f"{label}: {DECODED}"].append((records - answer) / 1000)
            parts[f"{label}: {DISPATCHED}"].append((start - records) / 1000)
    return dict(parts)
