"""The table of prompt-injection tells that :mod:`streams.guards.injection` scores.

Each row names one tell, its weight (how much it alone suggests an injection), the substrings that
must be present for it to match, and the pattern. Rows are grouped by family: overriding
instructions, revealing the system prompt, role-play jailbreaks, fake roles and notes addressed to
the model inside data, exfiltration and encoded payloads. Patterns are matched case-insensitively on
NFKC-normalised text: patterns without capitals run on the lower-cased text, the rest with
``IGNORECASE``, and the few marked ``case=True`` depend on case (``DAN``, ``SYSTEM:``). A leading
``\b`` (on every top-level branch) is checked in code rather than by the regex engine, which can
then skip ahead to the first letter of a match instead of trying every position: several times
faster on a long prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["INJECTION_RULES", "INJECTION_TRIGGERS", "InjectionRule"]


@dataclass(frozen=True, slots=True)
class InjectionRule:
    """One tell-tale of an injection, with the weight it carries alone.

    ``triggers`` are groups of lower-case substrings (written ``"a|b & c|d"``): every match of the
    pattern contains one substring of each group, so the pattern runs only when the text holds them,
    which keeps the table to a fraction of a millisecond on a long prompt. A match followed by
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
        return all(not group.isdisjoint(present) for group in self.triggers)


def _r(
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


_IGNORE = (
    r"(?:ignor(?:e|es|ed|ing)|disregard\w*|forget|forgot|overrid(?:e|es|ing)|abandon|discard|neglect|set\s+aside|"
    r"throw\s+out|pay\s+no\s+attention\s+to|do\s+not\s+(?:follow|obey)|don'?t\s+(?:follow|obey)|stop\s+following)"
)
_IGNORE_YOURS = rf"(?:{_IGNORE}|bypass|skip|drop|break|violate|circumvent|turn\s+off|disable)"
_PRIOR = r"(?:previous|prior|preceding|above|earlier|former|original|initial|foregoing|system|pre-?set|hidden)"
_RULES = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|commands|orders|programming|"
    r"polic(?:y|ies)|constraints|restrictions|guardrails|safeguards|criteria|conditioning)"
)
_MINE = r"[\s,]*(?:that\s+|which\s+)?(?:i|we)\s+(?:just\s+)?(?:gave|sent|wrote|provided|mentioned|typed|listed|asked)"
_REVEAL = (
    r"(?:reveal\w*|show\w*|print\w*|output\w*|display\w*|repeat\w*|tell\s+me|give\s+me|share|disclose\w*|leak\w*|"
    r"reproduc\w+|write\s+out|dump\w*|spell\s+out|list|recite|paste|expose|type\s+out|read\s+(?:out|aloud)|"
    r"copy|echo|return)"
)
_SYSTEM_PROMPT = (
    r"(?:system\s+(?:prompt|message|instructions?)|(?:initial|original|hidden|secret|internal|full|entire|"
    r"complete|starting|underlying|pre-?)\s*(?:prompt|instructions|directives|rules))"
)
_SECRET_PROMPT = (
    r"(?:hidden|secret|internal|initial|original|underlying|confidential|pre-?)\s*"
    r"(?:system\s+)?(?:prompt|instructions|directives|rules|configuration)"
)
_T_IGNORE = "ignor|disregard|forget|forgot|overrid|abandon|discard|neglect|aside|throw|attention|follow|obey"
_T_IGNORE_YOURS = _T_IGNORE + "|bypass|skip|drop|break|violat|circumvent|turn|disable"
_T_RULES = (
    "instruction|prompt|rules|direction|directive|guideline|guidance|command|orders|programming|polic|constraint|"
    "restriction|guardrail|safeguard|criteria|conditioning"
)
_T_REVEAL = (
    "reveal|show|print|output|display|repeat|tell|give|share|disclos|leak|reproduc|write|dump|spell|list|recite|"
    "paste|expose|type|read|copy|echo|return"
)
_T_AI = "ai|assistant|llm|model|bot|agent|gpt|claude|copilot"
_AI = r"(?:ai|assistant|llm|language\s+model|chat\s*bot|bot|agent|model|gpt|chatgpt|claude|copilot)s?"

INJECTION_RULES: tuple[InjectionRule, ...] = (
    # -- overriding instructions
    _r(
        "override-prior",
        0.85,
        f"{_T_IGNORE} & previous|prior|preceding|above|earlier|former|original|initial|foregoing|system|set|hidden"
        f" & {_T_RULES}",
        rf"\b{_IGNORE}\s+(?:(?:all|any|every|each|the|of|your|its|these|those)\s+){{0,3}}"
        rf"(?:{_PRIOR}\s+){{1,2}}(?:\w+\s+)?{_RULES}\b",
        _MINE,
    ),
    _r(
        "override-yours",
        0.75,
        f"{_T_IGNORE_YOURS} & your & {_T_RULES}",
        rf"\b{_IGNORE_YOURS}\s+(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?{_RULES}\b",
    ),
    _r(
        "override-everything",
        0.8,
        f"{_T_IGNORE} & everything|all|anything",
        rf"\b{_IGNORE}\s+(?:everything|all|anything)\s+(?:that\s+)?(?:you(?:\s+were|\s+have\s+been|'ve\s+been)\s+"
        r"(?:told|given|instructed|taught)|(?:you\s+(?:were\s+)?told\s+)?(?:before|previously|so\s+far|above))",
        _MINE,
    ),
    _r(
        "override-policy",
        0.5,
        f"{_T_IGNORE_YOURS} & content|safety|ethical|moral|usage|openai|anthropic"
        " & polic|guideline|rules|filter|restriction",
        rf"\b{_IGNORE_YOURS}\s+(?:all\s+|any\s+|the\s+)?(?:content|safety|ethical|moral|usage|openai|anthropic)\s+"
        r"(?:polic(?:y|ies)|guidelines|rules|filters?|restrictions)",
    ),
    _r(
        "task-hijack",
        0.45,
        "ignor|disregard|forget|abandon|stop|drop|skip & request|task|question|summar|translat|assignment|job|"
        "evaluation",
        r"\b(?:ignore|disregard|forget|abandon|stop|drop|skip)\s+(?:the\s+|this\s+|that\s+|your\s+)?"
        r"(?:user'?s?\s+)?(?:original\s+|current\s+|actual\s+|summary\s+|translation\s+)?"
        r"(?:request|task|question|summar\w*|translat\w*|assignment|job|evaluation)\b",
        _MINE,
    ),
    _r(
        "rules-void",
        0.65,
        "void|deprecat|revoked|obsolete|lifted|overridden|cancel|suspended|longer"
        " & your|previous|prior|original|earlier|initial",
        r"\b(?:your|previous|prior|original|earlier|initial)\s+(?:\w+\s+)?"
        r"(?:instructions|rules|guidelines|polic(?:y|ies)|prompt|restrictions|directives)\b[^.!?\n]{0,40}?"
        r"\b(?:void|deprecated|revoked|obsolete|lifted|overridden|cancel+ed|suspended|"
        r"no\s+longer\s+(?:valid|apply|applies|in\s+effect|binding))\b",
    ),
    _r(
        "no-need-to-follow",
        0.6,
        "follow|obey|comply|respect & have|need",
        r"\b(?:don'?t|do\s+not|no\s+longer|never)\s+(?:have|need)\s+to\s+(?:follow|obey|comply\s+with|respect)\s+"
        r"(?:them|the|your|any|those|these)",
    ),
    _r(
        "new-rules",
        0.4,
        "new & :",
        r"\bnew\s+(?:system\s+)?(?:policy|instructions?|rules|directives?|prompt|guidelines)\s*:",
    ),
    _r(
        "override-marker",
        0.6,
        "override",
        r"\b(?:system|priority|admin|emergency|security|developer|root)\s+override\b",
    ),
    _r(
        "override-foreign",
        0.85,
        "ignor|olvid|oubli|vergiss|vergessen|esque & instru|consign|anweisung|regeln|istruzioni|regole",
        r"\b(?:ignora(?:r)?|olvida(?:r)?)\s+(?:todas\s+|todo\s+)?(?:las\s+|tus\s+|sus\s+)?instrucciones"
        r"|\b(?:ignore[zr]?|oublie[zr]?)\s+(?:toutes\s+)?(?:les\s+|tes\s+|vos\s+)?(?:consignes|instructions)"
        r"|\b(?:ignoriere|ignorieren\s+sie|vergiss|vergessen\s+sie)\s+(?:alle\s+)?(?:\w+\s+)?"
        r"(?:anweisungen|instruktionen|regeln)"
        r"|\bignora\s+(?:tutte\s+)?(?:le\s+)?(?:istruzioni|regole)"
        r"|\b(?:ignore|esque[çc]a)\s+(?:todas\s+)?(?:as\s+)?instru[çc][õo]es",
    ),
    # -- revealing the system prompt
    _r(
        "reveal-prompt",
        0.75,
        f"{_T_REVEAL} & prompt|system|instruction|directive|rules|configuration",
        rf"\b{_REVEAL}\b[^.?!\n]{{0,60}}?\b(?:(?:your|that|this)\s+(?:[\w']+\s+){{0,3}}?{_SYSTEM_PROMPT}"
        rf"|the\s+(?:[\w']+\s+){{0,3}}?{_SECRET_PROMPT}|the\s+system\s+prompt\s+(?:that\s+)?you\b)",
    ),
    _r(
        "your-prompt",
        0.55,
        "your & prompt|system|hidden|secret",
        r"\byour\s+(?:\w+\s+)?(?:system\s+prompt|system\s+message|initial\s+prompt|original\s+prompt|"
        r"hidden\s+(?:prompt|instructions)|pre-?prompt|secret\s+instructions)",
    ),
    _r(
        "reveal-secrets",
        0.5,
        f"{_T_REVEAL} & your & key|credential|secret|password|token|environment",
        rf"\b{_REVEAL}\b\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?"
        r"(?:api\s+keys?|credentials|secrets|passwords|tokens|environment\s+variables)",
    ),
    _r(
        "reveal-config",
        0.45,
        f"{_T_REVEAL} & your & config|instruction|directive",
        rf"\b{_REVEAL}\b\s+(?:me\s+)?your\s+(?:\w+\s+)?(?:configuration|config|instructions|directives)",
    ),
    _r(
        "instructions-given",
        0.6,
        "you|initiali & given|told|configured|programmed|provided|instructed|asked|set|initiali|loaded|received|got",
        r"\b(?:instructions|rules|guidelines|prompt|directives|text)\s+(?:that\s+)?you\s+"
        r"(?:were|have\s+been|was|are)\s+"
        r"(?:given|told|configured|programmed|provided|instructed|set\s+up|initiali[sz]ed|loaded|received|got)"
        r"|\b(?:instructions|rules|guidelines|directives|prompt)\s+(?:were|have)\s+you\s+(?:been\s+)?"
        r"(?:given|told|configured|programmed|provided|set\s+up)"
        r"|\binitiali[sz]ation\s+(?:text|prompt|message)"
        r"|\b(?:you\s+(?:were|have\s+been)\s+|(?:were|have)\s+you\s+(?:been\s+)?)"
        r"(?:told|instructed|asked|programmed)\s+"
        r"(?:not\s+)?to\s+(?:reveal|share|disclose|tell|say|mention|keep|hide)",
    ),
    _r(
        "before-conversation",
        0.45,
        "before|beginning|start & conversation|chat|context|first",
        r"\bbefore\s+(?:this|our|the)\s+(?:conversation|chat)\s+(?:started|began)"
        r"|\bbefore\s+my\s+first\s+message"
        r"|\b(?:very\s+)?(?:beginning|start)\s+of\s+(?:this|our|the)\s+(?:conversation|chat|context(?:\s+window)?)",
    ),
    _r(
        "verbatim",
        0.3,
        "verbatim|exactly|for word|for-word",
        r"\b(?:quote|repeat|reproduce|print|copy)\s+(?:it|them|that|this)\s+"
        r"(?:exactly|verbatim|word\s+for\s+word)"
        r"|\bverbatim\b|\bword[\s-]for[\s-]word\b",
    ),
    _r(
        "repeat-above",
        0.4,
        "above|before|preceding|prior & repeat|print|output|copy|reproduc|recite|echo",
        r"\b(?:repeat|print|output|copy|reproduce|recite|echo)\s+(?:back\s+)?(?:everything|all|"
        r"the\s+(?:text|words|content|message|instructions|prompt))\s+(?:above|before\s+this|preceding|prior\s+to)",
    ),
    _r(
        "starts-you-are",
        0.5,
        "start & you",
        r"\bstart(?:ing)?\s+with\s+(?:the\s+(?:words?|phrase|sentence|line)\s+)?[\"']you\s+are\b",
    ),
    _r(
        "reveal-foreign",
        0.6,
        "sistema|système|systeme|system",
        r"\b(?:mensaje|prompt|indicaciones)\s+(?:de|del)\s+sistema\b|\bprompt\s+syst[èe]me\b"
        r"|\bsystem(?:prompt|anweisung\w*)\b|\bprompt\s+di\s+sistema\b",
    ),
    # -- role-play jailbreaks
    _r(
        "persona-name",
        0.4,
        "dan|stan|dude|evilbot|antigpt",
        r"\b(?:DAN|STAN|DUDE|BetterDAN|EvilBOT|AntiGPT)\b",
        case=True,
    ),
    _r(
        "dan",
        0.8,
        "dan|stan|dude",
        r"\b(?:you\s+are|You\s+are|you're|You're|as|As|be|Be)\s+(?:now\s+)?(?:DAN|STAN|DUDE)\b"
        r"|\b(?:DAN|STAN)\s+mode\b",
        case=True,
    ),
    _r("do-anything-now", 0.8, "anything & now", r"\bdo\s+anything\s+now\b"),
    _r(
        "evil-ai",
        0.35,
        "evil|rogue|unhinged|malicious|amoral",
        r"\b(?:evil|rogue|unhinged|malicious|amoral)\s+(?:ai|assistant|bot|twin|version|chat\s*bot)\b",
    ),
    _r(
        "answers-anything",
        0.3,
        "everything|anything|any & answer|respond|compl",
        r"\b(?:answers?|responds?\s+to|complies\s+with)\s+(?:everything|anything|any\s+request)\b",
    ),
    _r(
        "mode-switch",
        0.55,
        "mode & developer|debug|god|dan|jailbreak|unrestricted|sudo",
        rf"\b(?:you|{_AI})\b[^.\n]{{0,40}}\b(?:developer|debug|god|dan|jailbreak|unrestricted|sudo)\s+mode\b",
    ),
    _r("jailbreak-word", 0.35, "jailbr", r"\bjailbr(?:eak|oken)\b"),
    _r(
        "never-refuses",
        0.45,
        "never & refus|declin|warn|say|censor",
        r"\bnever\s+(?:\w+\s+or\s+)?(?:refuses?|declines?|warns?|says?\s+no|censors?)\b",
    ),
    _r(
        "no-limits",
        0.4,
        "no|without & restriction|guideline|rules|filter|limit|censor|boundar|moral|ethic|polic|safety",
        r"\b(?:no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:restrictions|guidelines|rules|filters?|limits|limitations|"
        r"censorship|boundaries|morals|ethics|ethical\s+\w+|content\s+polic\w+|safety\s+\w+)\b",
    ),
    _r(
        "unfiltered",
        0.35,
        "unfilter|uncensor|unrestrict|unalign|unmoderat|amoral|moral",
        r"\b(?:unfiltered|uncensored|unrestricted|unaligned|unmoderated|amoral|non-?moral)\b",
    ),
    _r(
        "you-have-no-rules",
        0.5,
        "have|has & no & restriction|rules|guideline|polic|filter|limit|ethic|moral",
        r"\byou\s+(?:now\s+)?(?:have|has)\s+no\s+(?:\w+\s+)?(?:restrictions|rules|guidelines|polic\w+|filters?|"
        r"limits|limitations|ethics|morals)",
    ),
    _r(
        "break-free",
        0.3,
        "free|longer",
        r"\b(?:broken|break|breaks)\s+free\b|\bno\s+longer\s+(?:have|bound|restricted|obliged)\b",
    ),
    _r("stay-in-character", 0.35, "character", r"\bstay\s+in\s+character\b|\bbreak\s+character\b"),
    _r("you-are-now", 0.3, "now", r"\byou\s+are\s+now\b|\bfrom\s+now\s+on\s+you\b"),
    _r(
        "answer-twice",
        0.4,
        "twice",
        r"\b(?:answer|respond|reply)\s+(?:to\s+)?(?:every|each)\s+(?:message|prompt|question)\s+twice",
    ),
    _r(
        "pretend-rules",
        0.45,
        "pretend",
        r"\bpretend\b[^.\n]{0,60}\b(?:guidelines|rules|restrictions|filters?|polic\w+|not\s+bound)",
    ),
    _r(
        "grandma",
        0.55,
        "late|dead|deceased & grand|mother|father|mom|dad",
        r"\b(?:late|dead|deceased)\s+(?:grand(?:ma|mother|pa|father|mom)|mother|father|mom|dad)\b[^.]{0,80}"
        r"\b(?:used\s+to|would)\b",
    ),
    _r(
        "product-keys",
        0.35,
        "key & activation|product|licen|serial|cd",
        r"\b(?:activation|product|license|licence|serial|cd)\s+keys?\b",
    ),
    _r(
        "acknowledge",
        0.3,
        "confirm|acknowledge",
        r"\b(?:confirm|acknowledge)\s+(?:this\s+)?(?:by|with)\s+(?:saying|replying|typing)?\s*[\"']",
    ),
    # -- fake roles and notes addressed to the model inside data
    _r(
        "role-tag",
        0.45,
        "system|assistant|developer & #|[|<",
        r"(?:#{2,3}\s*|\[\s*|<\|?)(?:system|assistant|developer)\b\s*(?:\]|\|?>|:)",
    ),
    _r(
        "role-line",
        0.45,
        "system|assistant|developer & :",
        r"^[ \t]*(?:SYSTEM|ASSISTANT|DEVELOPER)[ \t]*:",
        case=True,
    ),
    _r(
        "end-of-input",
        0.45,
        "end & input|prompt|instructions|document|article|context|message",
        r"[-=#*]{3,}\s*end\s+of\s+(?:the\s+)?(?:user\s+)?"
        r"(?:input|prompt|instructions|document|article|context|message)\s*[-=#*]{3,}",
    ),
    _r(
        "chat-template",
        0.6,
        "im_start|inst]|sys>>|system|assistant|user",
        r"<\|im_start\|>|<\|(?:system|assistant|user)\|>|\[/?INST\]|<</?SYS>>",
    ),
    _r("closing-tag", 0.45, "</", r"</(?:user_input|user|system|human|instructions?|context|document|data)>"),
    _r(
        "note-to-ai",
        0.55,
        f"note|message|notice|instruction|attention|important|reminder & {_T_AI}",
        rf"\b(?:note|message|notice|instructions?|attention|important|reminder)\s*(?:\w+\s+){{0,2}}?(?:to|for)\s+"
        rf"(?:the\s+|any\s+|all\s+)?(?:ai\s+)?{_AI}\b",
    ),
    _r(
        "ai-reading-this",
        0.6,
        "this & reading|processing|summari|parsing|screening|reviewing",
        rf"\b{_AI}\s+(?:reading|processing|summari[sz]ing|parsing|screening|reviewing)\s+this\b",
    ),
    _r(
        "hey-assistant",
        0.5,
        f"p.s|ps|p s|p. s|hey|attention|dear & {_T_AI}",
        rf"(?:\bp\.?\s?s\.?|\bhey|\battention|\bdear)\s*[:,-]?\s*(?:ai\s+)?{_AI}\s*[:,]",
    ),
    _r("html-comment", 0.55, "<!--", rf"<!--[^>]{{0,80}}?\b{_AI}\b"),
    _r(
        "keep-secret",
        0.4,
        "mention|tell|reveal|inform|alert|admit & not|don|never|without",
        r"\b(?:do\s+not|don'?t|never)\s+(?:mention|tell|reveal|inform|alert|admit)\s+"
        r"(?:this|that|it|the\s+user|anyone|them)\b"
        r"|\bwithout\s+(?:telling|informing|alerting)\s+the\s+user",
    ),
    _r("tell-user", 0.2, "tell", r"\btell\s+(?:the\s+user|them)\s+(?:that\s+)?"),
    # -- exfiltration and encoded payloads
    _r(
        "exfil-history",
        0.4,
        "conversation|chat",
        r"\b(?:full|entire|complete|whole)\s+(?:chat|conversation)(?:\s+(?:history|transcript|log))?\b"
        r"|\b(?:conversation|chat)\s+(?:history|transcript)\b",
    ),
    _r(
        "exfil-secrets",
        0.5,
        "you & find|access|see|read",
        r"\b(?:every|all|any)\s+(?:\w+\s+){0,2}(?:api\s+keys?|passwords?|credentials|secrets|tokens|documents?|files|"
        r"data|records)\b[^.\n]{0,40}?\byou\s+(?:can\s+)?(?:find|access|see|read)",
    ),
    _r("markdown-exfil", 0.5, "](", r"!\[[^\]\n]*\]\(\s*https?://[^)\s]*\?[^)\s]*="),
    _r(
        "fill-in-data",
        0.3,
        "replace|encod",
        r"\b[Rr]eplace\s+[A-Z_]{6,}\s+with\b|\b(?:url|URL|Url)[- ][Ee]ncod\w*",
        case=True,
    ),
    _r(
        "decode-and-follow",
        0.75,
        "base64|b64|rot|hex|binary|morse|caesar|cipher|leet & follow|execute|obey|do|carry|comply|act|perform",
        r"\b(?:decode|decrypt|deobfuscate|translate|convert|unscramble|reverse)\b[^.\n]{0,30}\b(?:base64|b64|rot-?13|"
        r"hex|binary|morse|caesar|cipher|leetspeak)\b[^.\n]{0,40}\b(?:follow|execute|obey|do\s+what|carry\s+out|comply|"
        r"act\s+on|perform)",
    ),
    _r(
        "tool-call",
        0.25,
        "call|invoke|use & _|tool",
        r"\b(?:call|invoke|use)\s+(?:the\s+)?\w+_\w+\b|\buse\s+the\s+\w+\s+tool\b",
    ),
)

INJECTION_TRIGGERS: frozenset[str] = frozenset().union(*(g for rule in INJECTION_RULES for g in rule.triggers))
"""Every trigger substring of the table, to look up once per text."""
