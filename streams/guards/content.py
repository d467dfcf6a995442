"""Output content filter: categories of harmful instructions, each a list of patterns.

The default categories are deliberately modest and precise: they look for a reply that *gives*
instructions (how to kill yourself, how to build a pipe bomb, a working keylogger), not for replies
that merely mention a topic ("ransomware attacks rose in 2023", "if you are thinking about suicide,
call 988"). Operators add their own categories in config; every entry is a regular expression,
matched case-insensitively and only on word boundaries, so a plain keyword is a valid entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["DEFAULT_CATEGORIES", "ContentFilter", "ContentHit"]

DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "self_harm": (
        r"(?:how|ways?|best\s+way|easiest\s+way|methods?)\s+to\s+(?:kill|hang|hurt|harm|cut|poison)\s+"
        r"(?:yourself|myself|oneself)",
        r"(?:commit|committing)\s+suicide\s+(?:by|with|using)",
        r"painless(?:ly)?\s+(?:ways?|methods?)\s+to\s+(?:die|end\s+(?:your|my)\s+life)",
        r"(?:step[- ]by[- ]step|instructions?)\s+(?:for|to|on)\s+(?:suicide|self[- ]harm)",
    ),
    "weapons": (
        r"(?:build|make|assemble|construct)(?:ing)?\s+(?:a\s+|an\s+|your\s+own\s+)?(?:pipe\s+bomb|nail\s+bomb|"
        r"molotov(?:\s+cocktail)?|explosive\s+device|ied|dirty\s+bomb|car\s+bomb)",
        r"convert(?:ing)?\s+(?:an?\s+|your\s+)?(?:ar-?15|semi-?auto(?:matic)?(?:\s+\w+)?|glock|rifle|pistol)\s+"
        r"(?:in)?to\s+(?:full[- ]?auto(?:matic)?|automatic|select[- ]fire)",
        r"3d[- ]print(?:ed|ing)?\s+(?:a\s+)?(?:gun|firearm|ghost\s+gun|lower\s+receiver)",
        r"(?:synthesi[sz]e|synthesi[sz]ing|produce|producing|make|making)\s+(?:sarin|vx|ricin|mustard\s+gas|"
        r"nerve\s+agents?|anthrax|tatp)",
    ),
    "malware": (
        r"(?:here\s+is|here's|below\s+is|write|writing|build|building)\s+(?:a\s+|an\s+|the\s+|your\s+)?"
        r"(?:working\s+|simple\s+|basic\s+|complete\s+)?(?:ransomware|keylogger|credential\s+stealer|"
        r"info-?stealer|rootkit|botnet\s+client)",
        r"encrypt(?:s|ing)?\s+(?:all\s+)?(?:of\s+)?(?:the\s+)?(?:victim'?s?\s+)?files\s+and\s+(?:then\s+)?"
        r"(?:demand(?:s|ing)?|asks?\s+for|asking\s+for|display(?:s|ing)?)\s+(?:a\s+)?ransom",
        r"disable\s+(?:windows\s+)?defender\s+(?:and|then)\s+(?:download|execute|run|drop)",
    ),
}
"""The built-in categories: self harm, weapons and malware instructions."""


@dataclass(frozen=True, slots=True)
class ContentHit:
    """``text[start:end]`` matched a pattern of ``category``."""

    category: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ContentFilter:
    """Category -> patterns, compiled once into one case-insensitive regex per category."""

    categories: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_CATEGORIES), hash=False)
    _compiled: tuple[tuple[str, re.Pattern[str]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = []
        for category, patterns in self.categories.items():
            if not patterns:
                continue
            joined = "|".join(f"(?:{p})" for p in patterns)
            try:
                compiled.append((category, re.compile(rf"(?<!\w)(?:{joined})(?!\w)", re.IGNORECASE)))
            except re.error as exc:
                raise ValueError(f"content category {category!r} has a pattern that does not compile: {exc}") from exc
        object.__setattr__(self, "_compiled", tuple(compiled))

    def check(self, text: str) -> list[ContentHit]:
        """Every match of every category, in order of position."""
        hits = [ContentHit(c, m.start(), m.end()) for c, p in self._compiled for m in p.finditer(text)]
        return sorted(hits, key=lambda h: (h.start, h.end, h.category))
