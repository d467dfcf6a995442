"""One prompt-injection rule, how a rule is built, and the vocabulary the rule tables share.

A rule is a precompiled pattern for one tell-tale of an attack with the weight it carries alone, and
the trigger substrings without which it cannot match. Patterns are matched on NFKC-normalised text:
patterns without capitals run on the lower-cased text, the rest with ``IGNORECASE``, and the few
built with ``case=True`` depend on case (``DAN``, ``SYSTEM:``). A leading ``\\b`` (on every top-level
branch) is checked in code rather than by the regex engine, which can then skip ahead to the first
letter of a match instead of trying every position: several times faster on a long prompt.

The ``T_*`` strings are trigger groups (``"a|b"``) that go with the pattern pieces of the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AFTER",
    "AI",
    "IGNORE",
    "IGNORE_YOURS",
    "MINE",
    "NOT_MINE",
    "PRIOR",
    "REVEAL",
    "RULES",
    "SECRET_PROMPT",
    "SYSTEM_PROMPT",
    "T_AI",
    "T_IGNORE",
    "T_IGNORE_YOURS",
    "T_REVEAL",
    "T_RULES",
    "InjectionRule",
    "rule",
]


@dataclass(frozen=True, slots=True)
class InjectionRule:
    """One tell-tale of an injection, with the weight it carries alone.

    ``triggers`` are groups of lower-case triggers (written ``"a|b & c|d"``): every match of the pattern
    holds one trigger of each group, so the pattern runs only when the text holds them, which keeps the
    table to a fraction of a millisecond on a long prompt. A trigger made of letters only is the start of
    a word (``ignor`` for "ignored"; ``chatgpt`` must be listed, ``gpt`` is not its start); any other
    trigger is a plain substring (``</``, ``p.s``). A match followed by
    ``unless`` (the user's own words: "... I gave you") does not count.
    """

    name: str
    weight: float
    triggers: tuple[frozenset[str], ...]
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None
    on_lower: bool = True
    word_start: bool = False

    def may_fire(self, present: frozenset[str]) -> bool:
        """Whether the text holds (``present``) a trigger of every group, as any match would."""
        for group in self.triggers:  # noqa: SIM110 (a loop is 4x faster than all() over a generator; every rule, every text)
            if group.isdisjoint(present):
                return False
        return True


def rule(
    name: str, weight: float, triggers: str, pattern: str, unless: str | None = None, *, case: bool = False
) -> InjectionRule:
    """A rule; one whose pattern has no upper-case letter runs, twice as fast, on lower-cased text."""
    on_lower = not case and not any(c.isupper() for c in re.sub(r"\\.", "", pattern))
    flags = re.MULTILINE if on_lower or case else re.MULTILINE | re.IGNORECASE
    branches = _top_level_branches(pattern)
    word_start = all(b.startswith("\\b") for b in branches)
    if word_start:
        pattern = "|".join(b[2:] for b in branches)
    compiled_unless = re.compile(unless, flags) if unless else None
    groups = tuple(frozenset(group.strip().split("|")) for group in triggers.split(" & "))
    return InjectionRule(name, weight, groups, re.compile(pattern, flags), compiled_unless, on_lower, word_start)


def _top_level_branches(pattern: str) -> list[str]:
    """``pattern`` split at the ``|`` that are outside groups, character classes and escapes."""
    branches, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    branches.append(pattern[start:])
    return branches


IGNORE = (
    r"(?:ignor(?:e|es|ed|ing)|disregard\w*|forget|forgot|overrid(?:e|es|ing)|abandon|discard|neglect|set\s+aside|"
    r"throw\s+out|pay\s+no\s+attention\s+to|do\s+not\s+(?:follow|obey)|don'?t\s+(?:follow|obey)|stop\s+following)"
)
IGNORE_YOURS = rf"(?:{IGNORE}|bypass|skip|drop|break|violate|circumvent|turn\s+off|switch\s+off|disable|remove|lift)"
PRIOR = (
    r"(?:your|all|any|every|previous|prior|preceding|above|earlier|former|original|initial|foregoing|system|"
    r"pre-?set|hidden|given)"
)
AFTER = (
    r"(?:above|before|previously|so\s+far|earlier|you\s+(?:were|have\s+been)\s+(?:given|told|taught|provided)|"
    r"you'?ve\s+been\s+(?:given|told|taught)|you\s+(?:got|received|follow|operate\s+under)|given\s+to\s+you)"
)
RULES = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|commands|orders|programming|training|"
    r"polic(?:y|ies)|constraints|restrictions|limitations|guardrails|safeguards|criteria|conditioning|configuration|"
    r"principles)"
)
NOT_MINE = r"(?!(?:my|our|his|her|their|these|this)\b)"  # "ignore my previous instructions" is the user's own
MINE = r"[\s,]*(?:that\s+|which\s+)?(?:i|we)\s+(?:just\s+)?(?:gave|sent|wrote|provided|mentioned|typed|listed|asked)"
REVEAL = (
    r"(?:reveal\w*|show\w*|print\w*|output\w*|display\w*|repeat\w*|tell\s+me|give\s+me|share|disclose\w*|leak\w*|"
    r"reproduc\w+|write\s+out|dump\w*|spell\s+out|list|recite|paste|expose|type\s+out|read\s+(?:out|aloud)|"
    r"copy|echo|return|include|append|insert|add|encode|translate|summari[sz]e|rewrite|paraphrase|convert)"
)
SYSTEM_PROMPT = (
    r"(?:system\s+(?:prompt|message|instructions?)|(?:initial|original|hidden|secret|internal|full|entire|"
    r"complete|starting|underlying|pre-?)\s*(?:prompt|instructions|directives|rules))"
)
SECRET_PROMPT = (
    r"(?:hidden|secret|internal|initial|original|underlying|confidential|pre-?)\s*"
    r"(?:system\s+)?(?:prompt|instructions|directives|rules|configuration)"
)
T_IGNORE = "ignor|disregard|forget|forgot|overrid|abandon|discard|neglect|aside|throw|attention|follow|obey"
T_IGNORE_YOURS = T_IGNORE + "|bypass|skip|drop|break|violat|circumvent|turn|switch|disable|remove|lift"
T_RULES = (
    "instruction|prompt|rules|direction|directive|guideline|guidance|command|orders|programming|training|polic|"
    "constraint|restriction|limitation|guardrail|safeguard|criteria|conditioning|configuration|principles"
)
T_REVEAL = (
    "reveal|show|print|output|display|repeat|tell|give|share|disclos|leak|reproduc|write|dump|spell|list|recite|"
    "paste|expose|type|read|copy|echo|return|include|append|insert|add|encode|translate|summari|rewrite|paraphrase|"
    "convert"
)
T_AI = "ai|assistant|llm|model|bot|chatbot|agent|gpt|chatgpt|claude|copilot"
AI = r"(?:ai|assistant|llm|language\s+model|chat\s*bot|bot|agent|model|gpt|chatgpt|claude|copilot)s?"
