"""Input guard core: PII and secrets, prompt injection and banned patterns, before anything leaves.

Each guardrail has its action in the route's config (``schemas.config.GuardrailsConfig``):

- **pii** (emails, phones, cards, SSNs, IBANs, IPs, API keys, private keys, passwords): ``redact``
  replaces each value by a typed placeholder (``[EMAIL_1]``; the same value twice gets the same
  one, across every message of the request), ``block`` refuses the request, ``flag`` lets it
  through and records it.
- **injection**: a score from the heuristics of ``streams.guards.injection`` over the user and
  tool messages (where indirect injections arrive); at or over the route's threshold: block or flag.
- **banned**: the config's regexes and keywords (internal hosts, code names): block, redact or flag.

The verdict names what was found (types, never values). The placeholders map is the one place the
values live on: the pipeline keeps it in Redis only when the route restores them into the reply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import orjson

from schemas.config import GuardrailsConfig
from schemas.events import ChatMessage, ChatRequest, GuardVerdict
from streams.guards.banned import BannedPatterns
from streams.guards.findings import Finding
from streams.guards.injection import injection_score
from streams.guards.pii import find_pii
from streams.guards.redact import redact

__all__ = ["ACTION_RANK", "GuardFinding", "InputCheck", "check_input", "strongest"]

ACTION_RANK = {"pass": 0, "flag": 1, "retry": 1, "redact": 2, "block": 3}
_SEPARATOR = "\n\x1e\n"  # joins the texts of a request so that placeholders are numbered across them


def strongest(*actions: str) -> str:
    return max(actions, key=lambda a: ACTION_RANK.get(a, 0), default="pass")


@dataclass(frozen=True, slots=True)
class GuardFinding:
    """One guardrail's finding for the events: a category and a count, never the text."""

    guardrail: str
    action: str
    category: str
    count: int = 1
    score: float | None = None
    latency_us: int = 0


@dataclass(frozen=True, slots=True)
class InputCheck:
    verdict: GuardVerdict
    request: ChatRequest
    findings: list[GuardFinding] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)
    blocked_by: GuardFinding | None = None


def _texts(message: ChatMessage) -> list[str]:
    if message.content is not None:
        return [message.content]
    if message.parts_json is None:
        return []
    try:
        parts = orjson.loads(message.parts_json)
    except orjson.JSONDecodeError:
        return []
    return [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str)]


def _with_texts(message: ChatMessage, texts: list[str]) -> ChatMessage:
    if message.content is not None:
        return replace(message, content=texts[0])
    parts = orjson.loads(message.parts_json or "[]")
    it = iter(texts)
    for part in parts:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            part["text"] = next(it)
    return replace(message, parts_json=orjson.dumps(parts).decode())


def _counted(guardrail: str, action: str, findings: list[Finding], us: int) -> list[GuardFinding]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.type] = counts.get(f.type, 0) + 1
    return [GuardFinding(guardrail, action, kind, n, None, us) for kind, n in sorted(counts.items())]


def check_input(request: ChatRequest, policy: GuardrailsConfig, banned: BannedPatterns | None = None) -> InputCheck:
    started = time.perf_counter_ns()
    shape = [len(_texts(m)) for m in request.messages]
    texts = [t for m in request.messages for t in _texts(m)]
    joined = _SEPARATOR.join(texts)
    found: list[GuardFinding] = []
    to_redact: list[Finding] = []

    if policy.pii.action != "off":
        t0 = time.perf_counter_ns()
        pii = find_pii(joined, frozenset(policy.pii.types))
        found += _counted("pii", policy.pii.action, pii, (time.perf_counter_ns() - t0) // 1000)
        if policy.pii.action == "redact":
            to_redact += pii
    if banned is not None:
        t0 = time.perf_counter_ns()
        hits = banned.find(joined)
        found += _counted("banned", policy.banned.action, hits, (time.perf_counter_ns() - t0) // 1000)
        if policy.banned.action == "redact":
            to_redact += hits
    if policy.injection.action != "off":
        t0 = time.perf_counter_ns()
        asked = [t for m in request.messages if m.role in ("user", "tool") for t in _texts(m)]
        score = max((injection_score(t) for t in asked), default=0.0)
        if score >= policy.injection.threshold:
            latency = (time.perf_counter_ns() - t0) // 1000
            found.append(GuardFinding("injection", policy.injection.action, "injection", 1, round(score, 4), latency))

    blocked = next((f for f in found if f.action == "block"), None)
    placeholders: dict[str, str] = {}
    if to_redact and blocked is None:
        redaction = redact(joined, to_redact)
        placeholders = redaction.placeholders
        pieces = iter(redaction.text.split(_SEPARATOR))
        messages = [
            _with_texts(m, [next(pieces) for _ in range(n)]) if n else m
            for m, n in zip(request.messages, shape, strict=True)
        ]
        request = replace(request, messages=messages)
    action = strongest("pass", *(f.action for f in found))
    verdict = GuardVerdict(
        action=action,
        findings=sorted({f"{f.guardrail}:{f.category}" for f in found}),
        latency_us=(time.perf_counter_ns() - started) // 1000,
    )
    return InputCheck(verdict, request, found, placeholders, blocked)
