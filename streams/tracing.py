"""W3C Trace Context for requests: the trace id a caller sends in ``traceparent`` (or a new one), and
the span ids Turnout gives its own spans.

A request is one trace: the gateway's span (``turnout.request``, from the ingress receiving it to the
stage that answered it) is the child of the caller's span, when it sent one; each stage and each
provider attempt is a child of it. Span ids are derived from the request id, so every process that
handles the request (ingress, each worker, the sink) names the same spans without coordinating, and
a replayed event gives the same ids again. The ``traceparent`` goes along as a Kafka header on every
message about the request and comes back on the reply.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["new_trace_id", "parse_traceparent", "request_span_id", "span_id", "traceparent"]

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")


def new_trace_id() -> str:
    return secrets.token_hex(16)


def parse_traceparent(header: str | None) -> tuple[str, str] | None:
    """``(trace_id, parent_span_id)`` from a valid header; ``None`` otherwise (then a new trace starts,
    as the W3C spec says for a header that does not parse)."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None:
        return None
    version, trace_id, parent, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(parent) == {"0"}:
        return None
    return trace_id, parent


def span_id(request_id: str, *parts: str | int) -> str:
    """A span id (16 hex) for one part of a request's handling: the same inputs, the same id."""
    digest = hashlib.sha256("\0".join([request_id, *map(str, parts)]).encode()).hexdigest()[:16]
    return digest if set(digest) != {"0"} else "0000000000000001"


def request_span_id(request_id: str) -> str:
    """The gateway's own span for the request: the parent of every stage and attempt span."""
    return span_id(request_id, "request")


def traceparent(trace_id: str, span: str, sampled: bool = True) -> str:
    return f"00-{trace_id}-{span}-{'01' if sampled else '00'}"
