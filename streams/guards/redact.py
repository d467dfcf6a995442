"""Replace findings by typed placeholders (``[EMAIL_1]``, ``[PHONE_2]``) and put the values back.

The same value found twice gets the same placeholder, so a model reading the redacted text can still
tell that two mentions are one address. Placeholders are numbered per type in order of appearance,
skipping any that the text already contains, so :func:`restore` never rewrites text it did not redact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from streams.guards.findings import Finding, resolve_overlaps

__all__ = ["Redaction", "redact", "restore"]


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text, and each placeholder with the value it stands for."""

    text: str
    placeholders: dict[str, str]


def redact(text: str, findings: Iterable[Finding]) -> Redaction:
    """``text`` with every finding replaced by its placeholder (overlapping findings are settled first)."""
    by_value: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    placeholders: dict[str, str] = {}
    pieces: list[str] = []
    pos = 0
    for finding in resolve_overlaps(findings):
        value = finding.value(text)
        key = (finding.type, value)
        placeholder = by_value.get(key)
        if placeholder is None:
            placeholder = _next_placeholder(text, finding.type, counts)
            by_value[key] = placeholder
            placeholders[placeholder] = value
        pieces += [text[pos : finding.start], placeholder]
        pos = finding.end
    pieces.append(text[pos:])
    return Redaction("".join(pieces), placeholders)


def _next_placeholder(text: str, kind: str, counts: dict[str, int]) -> str:
    while True:
        counts[kind] = counts.get(kind, 0) + 1
        placeholder = f"[{kind}_{counts[kind]}]"
        if placeholder not in text:
            return placeholder


def restore(text: str, placeholders: Mapping[str, str]) -> str:
    """``text`` (a redacted prompt, or a reply to one) with each placeholder replaced by its value."""
    if not placeholders:
        return text
    pattern = re.compile("|".join(re.escape(p) for p in sorted(placeholders, key=len, reverse=True)))
    return pattern.sub(lambda m: placeholders[m.group()], text)
