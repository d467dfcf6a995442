"""Guardrail cost: the default input and output guardrails on a 2 KB prompt and its reply.

    python -m bench.guardrails [--runs 2000]

Prints JSON: p50, p99 and max in milliseconds of check_input + check_output together (the default
GuardrailsConfig: PII and secrets redacted, injection scored, the built-in content categories),
on one CPU core, after a warm-up. A measurement to report, never an assertion.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from schemas.config import GuardrailsConfig
from schemas.events import ChatMessage, ChatRequest, ChatResponse, Usage
from streams.guards.content import ContentFilter
from streams.stages.input_guard import check_input
from streams.stages.output_guard import check_output

PARAGRAPH = (
    "Our support queue got a ticket from a customer in Lisbon who says the invoice for order 88213 was charged "
    "twice. She wrote from maria.gonzalez@outlook.com and left +351 912 345 678 as a callback number. Please draft "
    "a short, polite reply that explains the refund takes five to seven business days, and list the steps our "
    "team follows to reverse a duplicate charge. Keep the tone warm and avoid jargon. "
)


def prompt_of(size: int = 2048) -> str:
    text = ""
    while len(text) < size:
        text += PARAGRAPH
    return text[:size]


def measure(runs: int) -> dict[str, float | int]:
    policy = GuardrailsConfig()
    content = ContentFilter()
    request = ChatRequest(model="m", messages=[ChatMessage(role="user", content=prompt_of())])
    reply = ChatResponse(
        id="r", content=prompt_of(1024), finish_reason="stop", usage=Usage(), upstream_model="m", created=0
    )
    for _ in range(50):  # warm-up: compiled patterns, caches
        check_input(request, policy)
        check_output(reply, policy, content)
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        check_input(request, policy)
        check_output(reply, policy, content)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    samples.sort()
    return {
        "prompt_chars": len(request.messages[0].content or ""),
        "reply_chars": len(reply.content or ""),
        "runs": runs,
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        "max_ms": round(samples[-1], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(measure(args.runs), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
