"""Spans to an OpenTelemetry collector: OTLP over HTTP with the JSON encoding
(``POST <endpoint>`` with ``Content-Type: application/json``, an ``ExportTraceServiceRequest``).

The sink hands each inserted batch's span rows to :class:`OtlpExporter`, which sends them from a
thread of its own: the sink never waits on a collector. A collector that is down or slow costs
those spans (counted and logged, at most one retry), never a ClickHouse row; ClickHouse ``spans``
keeps them all.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from typing import Any

import httpx

__all__ = ["OtlpExporter", "export_request"]

log = logging.getLogger(__name__)

MAX_QUEUED = 200  # batches waiting to be sent; past it, new ones are dropped (and counted)


def _nanos(us: int) -> str:
    return str(us * 1000)  # a row's microseconds; OTLP/JSON writes 64-bit integers as strings


def export_request(span_rows: list[list[Any]], service: str = "turnout") -> dict[str, Any]:
    """An ``ExportTraceServiceRequest`` for rows in the order of ``TABLE_COLUMNS["spans"]``."""
    spans = []
    for trace_id, span_id, parent, request_id, tenant, name, start, end, _dur, status, attributes in span_rows:
        attrs = {"turnout.request_id": request_id, "turnout.tenant": tenant, **attributes}
        span: dict[str, Any] = {
            "traceId": trace_id,
            "spanId": span_id,
            "name": name,
            "kind": 2 if name == "turnout.request" else 3 if name.startswith("provider ") else 1,  # server, client
            "startTimeUnixNano": _nanos(start),
            "endTimeUnixNano": _nanos(end),
            "attributes": [{"key": k, "value": {"stringValue": str(v)}} for k, v in sorted(attrs.items())],
            "status": {"code": 1 if status == "ok" else 2},
        }
        if parent:
            span["parentSpanId"] = parent
        spans.append(span)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "turnout.sink"}, "spans": spans}],
            }
        ]
    }


class OtlpExporter:
    def __init__(self, endpoint: str, timeout_s: float = 5.0) -> None:
        self.endpoint = endpoint
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[list[list[Any]] | None] = queue.Queue(MAX_QUEUED)
        self._http = httpx.Client(timeout=timeout_s)
        self._thread = threading.Thread(target=self._run, name="turnout-otlp", daemon=True)
        self._thread.start()

    def offer(self, span_rows: list[list[Any]]) -> None:
        if not span_rows:
            return
        try:
            self._queue.put_nowait(span_rows)
        except queue.Full:
            self.dropped += len(span_rows)

    def close(self, timeout_s: float = 5.0) -> None:
        """Send what is queued (for at most ``timeout_s``), then stop."""
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout_s)
        self._thread.join(timeout_s)
        self._http.close()

    def _run(self) -> None:
        while (rows := self._queue.get()) is not None:
            body = export_request(rows)
            for attempt in (1, 2):
                try:
                    response = self._http.post(self.endpoint, json=body)
                    if response.status_code < 300:
                        self.sent += len(rows)
                        break
                    problem = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    problem = str(exc) or type(exc).__name__
                if attempt == 2:
                    self.dropped += len(rows)
                    log.warning("OTLP export to %s failed (%s): %d spans dropped", self.endpoint, problem, len(rows))
