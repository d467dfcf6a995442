"""Banned patterns from config: regular expressions and keywords, compiled once, found as ``BANNED``.

Keywords match case-insensitively, as whole words (not inside a longer word: ``ban`` does not match
``bandage``), with any run of whitespace where the keyword has a space. Regexes match as written (add
``(?i)`` for case-insensitivity). A bad regex is refused when the patterns are built, so a config
holding one fails at start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from streams.guards.findings import BANNED, Finding, resolve_overlaps

__all__ = ["BannedPatterns"]


@dataclass(frozen=True, slots=True)
class BannedPatterns:
    """Config patterns whose matches are reported as ``BANNED`` findings."""

    regexes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = []
        for regex in self.regexes:
            try:
                compiled.append(re.compile(regex))
            except re.error as exc:
                raise ValueError(f"banned regex {regex!r} does not compile: {exc}") from exc
        words = sorted({k.strip() for k in self.keywords if k.strip()}, key=len, reverse=True)
        if words:
            alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
            compiled.append(re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE))
        object.__setattr__(self, "_compiled", tuple(compiled))

    def find(self, text: str) -> list[Finding]:
        """Every match, sorted and non-overlapping (the longer of two overlapping matches wins)."""
        found = [
            Finding(BANNED, m.start(), m.end()) for p in self._compiled for m in p.finditer(text) if m.end() > m.start()
        ]
        return resolve_overlaps(found)
