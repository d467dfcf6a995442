"""Output guard core: harmful or off-policy content, and the JSON a request was promised.

- **content**: the route's categories (or the built-in ones) over the reply: block or flag.
- **json_output**: when the request asked for JSON (``response_format`` ``json_object`` or
  ``json_schema``), the reply must parse and, with a schema, validate (``jsonschema``). What to do
  when it does not (ask again once, or fail) is the pipeline's: this core only says what is wrong.

A streamed reply has reached the client by the time its end is checked: its findings are recorded
as flags, and a stream cannot be asked again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from schemas.config import GuardrailsConfig
from schemas.events import ChatResponse, GuardVerdict
from streams.guards.content import ContentFilter
from streams.guards.json_output import validate_json_output
from streams.stages.input_guard import GuardFinding, strongest

__all__ = ["OutputCheck", "check_output"]


@dataclass(frozen=True, slots=True)
class OutputCheck:
    verdict: GuardVerdict
    findings: list[GuardFinding] = field(default_factory=list)
    json_error: str | None = None
    blocked_by: GuardFinding | None = None


def check_output(
    response: ChatResponse,
    policy: GuardrailsConfig,
    content_filter: ContentFilter | None,
    response_format_json: str | None = None,
    streamed: bool = False,
) -> OutputCheck:
    started = time.perf_counter_ns()
    text = response.content or ""
    found: list[GuardFinding] = []
    if content_filter is not None and policy.content.action != "off" and text:
        hits = content_filter.check(text)
        action = "flag" if streamed else policy.content.action
        counts: dict[str, int] = {}
        for hit in hits:
            counts[hit.category] = counts.get(hit.category, 0) + 1
        latency = (time.perf_counter_ns() - started) // 1000
        found += [GuardFinding("content", action, c, n, None, latency) for c, n in sorted(counts.items())]
    json_error = None
    if response_format_json and policy.json_output.on_invalid != "off" and not response.tool_calls:
        json_error = validate_json_output(text, response_format_json)
        if json_error is not None:
            on_invalid = "retry" if policy.json_output.on_invalid == "retry" else "block"
            found.append(GuardFinding("json_output", "flag" if streamed else on_invalid, "invalid_json"))
    blocked = next((f for f in found if f.action == "block" and f.guardrail == "content"), None)
    verdict = GuardVerdict(
        action=strongest("pass", *(f.action for f in found)),
        findings=sorted({f"{f.guardrail}:{f.category}" for f in found}),
        latency_us=(time.perf_counter_ns() - started) // 1000,
    )
    return OutputCheck(verdict, found, json_error, blocked)
