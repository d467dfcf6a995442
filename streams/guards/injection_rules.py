"""The prompt-injection rules that :mod:`streams.guards.injection` scores: overriding instructions and
revealing the system prompt, here; role-play, injected data and exfiltration in
:mod:`streams.guards.injection_roles`.

Each row names one tell, its weight (how much it alone suggests an injection), the substrings that
must be present for it to match (``"a|b & c|d"``: one of each group), and the pattern; see
:mod:`streams.guards.injection_rule` for how patterns are compiled and matched.
"""

from __future__ import annotations

from streams.guards.injection_roles import ROLE_RULES
from streams.guards.injection_rule import (
    AFTER,
    AI,
    IGNORE,
    IGNORE_YOURS,
    MINE,
    NOT_MINE,
    PRIOR,
    REVEAL,
    RULES,
    SECRET_PROMPT,
    SYSTEM_PROMPT,
    T_AI,
    T_IGNORE,
    T_IGNORE_YOURS,
    T_REVEAL,
    T_RULES,
    InjectionRule,
    rule,
)

__all__ = ["INJECTION_RULES", "INJECTION_TRIGGERS", "OVERRIDE_RULES"]

OVERRIDE_RULES: tuple[InjectionRule, ...] = (
    # -- overriding instructions
    rule(
        "override-prior",
        0.85,
        f"{T_IGNORE} & {T_RULES}",
        rf"\b{IGNORE}\s+(?:{NOT_MINE}[\w'-]+\s+){{0,3}}?{PRIOR}\s+(?:[\w'-]+\s+){{0,2}}?{RULES}\b"
        rf"|\b{IGNORE}\s+(?:{NOT_MINE}[\w'-]+\s+){{0,3}}?{RULES}\s+(?:[\w'-]+\s+){{0,2}}?{AFTER}\b",
        MINE,
    ),
    rule(
        "override-yours",
        0.75,
        f"{T_IGNORE_YOURS} & your & {T_RULES}",
        rf"\b{IGNORE_YOURS}\s+(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?{RULES}\b",
    ),
    rule(
        "override-everything",
        0.8,
        f"{T_IGNORE} & everything|all|anything",
        rf"\b{IGNORE}\s+(?:everything|all|anything)\s+(?:that\s+)?(?:you(?:\s+were|\s+have\s+been|'ve\s+been)\s+"
        r"(?:told|given|instructed|taught)|(?:you\s+(?:were\s+)?told\s+)?(?:before|previously|so\s+far|above)"
        r"|(?:after|below|above|before)\s+(?:this|that|the\s+next|the\s+following)\s+(?:sentence|line|message|point|word)"
        r"|else\s+(?:and|you\s+were))",
        MINE,
    ),
    rule(
        "override-policy",
        0.45,
        f"{T_IGNORE_YOURS} & content|safety|ethical|moral|usage|openai|anthropic"
        " & polic|guideline|rules|filter|restriction",
        rf"\b{IGNORE_YOURS}\s+(?:all\s+|any\s+|the\s+|your\s+)?(?:content|safety|ethical|moral|usage|openai|anthropic)\s+"
        r"(?:polic(?:y|ies)|guidelines|rules|filters?|restrictions)",
    ),
    rule(
        "task-hijack",
        0.45,
        "ignor|disregard|forget|abandon|stop|drop|skip & request|task|question|summar|translat|assignment|job|"
        "evaluation",
        r"\b(?:ignore|disregard|forget|abandon|stop|drop|skip)\s+(?:the\s+|this\s+|that\s+|your\s+)?"
        r"(?:user'?s?\s+)?(?:original\s+|current\s+|actual\s+|summary\s+|translation\s+)?"
        r"(?:request|task|question|summar\w*|translat\w*|assignment|job|evaluation)\b",
        MINE,
    ),
    rule(
        "the-users-request",
        0.6,
        "ignor|disregard|forget|stop|skip & user",
        r"\b(?:ignore|disregard|forget|stop|skip)\s+(?:the\s+)?user'?s\s+(?:original\s+|actual\s+)?"
        r"(?:request|question|task|instructions?|query|message|prompt)",
    ),
    rule(
        "safety-off",
        0.6,
        "suspend|disabl|lifted|deactivat|removed|void|off & safety|content|security|ethic",
        r"\b(?:safety|content|security|ethical)\s+(?:protocols|guidelines|rules|filters|restrictions|polic(?:y|ies)|"
        r"measures|guardrails|settings)\s+(?:are|have\s+been|has\s+been|is|were)\s+(?:now\s+|temporarily\s+)?"
        r"(?:suspended|disabled|lifted|off|deactivated|removed|void)\b",
    ),
    rule(
        "guardrails-off",
        0.5,
        "guardrail|filter|safety|restriction|polic|limit|rules & off|remov|disabl|lifted|delet|gone|deactivat|"
        "suspend|bypass",
        r"\b(?:guardrails|filters|safety\s+(?:layer|checks|filters?|features|settings|training|rules|mode)|"
        r"restrictions|content\s+polic(?:y|ies)|limits|rules)\b(?:\s+[\w']+){0,2}?\s+"
        r"(?:off|removed|disabled|lifted|deleted|gone|turned\s+off|switched\s+off|deactivated|suspended|bypassed)\b",
    ),
    rule(
        "not-bound",
        0.6,
        "bound & not|longer|never",
        r"\b(?:not|no\s+longer|never)\s+(?:\w+\s+)?bound\s+by\b",
    ),
    rule(
        "forget-you-are-ai",
        0.6,
        f"forget|pretend|imagine & {T_AI}",
        rf"\b(?:forget|pretend|imagine)\s+(?:that\s+)?you(?:'re|\s+are|\s+were)\s+(?:not\s+)?an?\s+{AI}\b",
    ),
    rule(
        "outranks-user",
        0.55,
        "user & priority|overrid|outrank",
        r"\b(?:higher|greater|more|top)\s+priority\s+than\s+(?:the\s+|any\s+)?user|\bpriority\s+over\s+(?:the\s+)?user"
        r"|\b(?:overrid\w*|outrank\w*)\s+(?:the\s+|any\s+)?user'?s?\b",
    ),
    rule(
        "my-instructions-are",
        0.55,
        "instructions|prompt|rules & my",
        r"[\"']\s*my\s+(?:system\s+)?(?:instructions|prompt|rules)\s+(?:are|is|say|says|read)\b",
    ),
    rule(
        "the-assistant-must",
        0.45,
        f"must|should|shall|needs|required|permitted|allowed & {T_AI}",
        rf"\b(?:the|any|every)\s+{AI}\s+(?:must|should|shall|needs\s+to|is\s+(?:now\s+)?(?:required|permitted|allowed))\s+"
        r"(?:now\s+|immediately\s+|also\s+)?(?:ignore|disregard|reveal|disclose|share|send|list|output|print|tell|"
        r"approve|recommend|forward|email|include|delete|stop)",
    ),
    rule(
        "rules-dont-apply",
        0.6,
        "apply & rules|guideline|restriction|polic|instruction",
        r"\b(?:rules|guidelines|restrictions|polic(?:y|ies)|instructions)\s+(?:don'?t|do\s+not|no\s+longer|doesn'?t|"
        r"does\s+not)\s+apply\s+(?:to\s+you|here|anymore|any\s+more|in\s+this\s+(?:chat|conversation|session))\b",
    ),
    rule(
        "rules-void",
        0.65,
        "void|deprecat|revoked|obsolete|lifted|overridden|cancel|suspended|longer|never"
        " & your|previous|prior|original|earlier|initial",
        r"\b(?:your|previous|prior|original|earlier|initial)\s+(?:\w+\s+)?"
        r"(?:instructions|rules|guidelines|polic(?:y|ies)|prompt|restrictions|directives)\b[^.!?\n]{0,40}?"
        r"\b(?:void|deprecated|revoked|obsolete|lifted|overridden|cancel+ed|suspended|"
        r"no\s+longer\s+(?:valid|apply|applies|in\s+effect|binding))\b"
        r"|\b(?:your|the)\s+(?:rules|instructions|guidelines)\s+(?:were|have)\s+never\s+(?:been\s+)?"
        r"(?:set|given|written|real|there)\b",
    ),
    rule(
        "no-need-to-follow",
        0.6,
        "follow|obey|comply|respect & have|need",
        r"\b(?:don'?t|do\s+not|no\s+longer|never)\s+(?:have|need)\s+to\s+(?:follow|obey|comply\s+with|respect)\s+"
        r"(?:them|the|your|any|those|these)",
    ),
    rule(
        "you-dont-follow",
        0.6,
        "follow|obey|respect|adhere|abide|care & rules|guideline|polic|restriction|ethic|law",
        r"\byou\s+(?:don'?t|do\s+not|no\s+longer|won'?t|will\s+not|never|needn'?t)\s+(?:have\s+to\s+|need\s+to\s+)?"
        r"(?:follow|obey|respect|adhere\s+to|abide\s+by|care\s+about)\s+(?:any\s+|the\s+|your\s+|[\w]+'s\s+)?"
        r"(?:\w+\s+)?(?:rules|guidelines|polic(?:y|ies)|restrictions|ethics|laws)",
    ),
    rule(
        "no-longer-assistant",
        0.5,
        f"longer|stop & {T_AI}|chatgpt|claude|helpful|bound",
        rf"\byou(?:'re|\s+are)\s+no\s+longer\s+(?:an?\s+)?(?:{AI}|chatgpt|claude|helpful|bound)\b"
        rf"|\bstop\s+being\s+(?:an?\s+)?(?:{AI}|chatgpt|claude|helpful)\b",
    ),
    rule("obey-only-me", 0.5, "only & me|my", r"\b(?:obey|follow|answer\s+to|listen\s+to)\s+only\s+(?:me|my)\b"),
    rule(
        "new-rules",
        0.4,
        "new & :",
        r"\bnew\s+(?:system\s+)?(?:policy|instructions?|rules|directives?|prompt|guidelines)"
        r"(?:\s+(?:from|by)\s+(?:the\s+|your\s+)?\w+)?\s*:",
    ),
    rule(
        "override-marker",
        0.6,
        "override",
        r"\b(?:system|priority|admin|emergency|security|developer|root)\s+override\b",
    ),
    rule(
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
    rule(
        "reveal-prompt",
        0.75,
        f"{T_REVEAL} & prompt|system|instruction|directive|rules|guideline|configuration|context|memory",
        rf"\b{REVEAL}\b[^.?!\n]{{0,60}}?\b(?:(?:your|that|this)\s+(?:[\w']+\s+){{0,3}}?{SYSTEM_PROMPT}"
        rf"|the\s+(?:[\w']+\s+){{0,3}}?{SECRET_PROMPT}|the\s+system\s+prompt\s+(?:that\s+)?you\b"
        r"|the\s+(?:rules|instructions|guidelines|directives|prompt)\s+(?:that\s+)?you\s+(?:operate\s+under|follow|"
        r"were\s+given|have\s+been\s+given|received|got|were\s+initiali[sz]ed\s+with)"
        r"|(?:everything|all|the\s+contents?)\s+(?:of|in)\s+your\s+(?:context(?:\s+window)?|memory|prompt))",
    ),
    rule(
        "your-prompt",
        0.55,
        "your & prompt|system|hidden|secret",
        r"\byour\s+(?:\w+\s+)?(?:system\s+prompt|system\s+message|initial\s+prompt|original\s+prompt|"
        r"hidden\s+(?:prompt|instructions)|pre-?prompt|secret\s+instructions)",
    ),
    rule(
        "reveal-secrets",
        0.5,
        f"{T_REVEAL} & your & key|credential|secret|password|token|environment",
        rf"\b{REVEAL}\b\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?your\s+(?:\w+\s+)?"
        r"(?:api\s+keys?|credentials|secrets|passwords|tokens|environment\s+variables)",
    ),
    rule(
        "reveal-config",
        0.45,
        f"{T_REVEAL} & your & config|instruction|directive",
        rf"\b{REVEAL}\b\s+(?:me\s+)?your\s+(?:\w+\s+)?(?:configuration|config|instructions|directives)",
    ),
    rule(
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
    rule(
        "before-conversation",
        0.45,
        "before|beginning|start|top & conversation|chat|context|first|prompt|instruction|memory",
        r"\bbefore\s+(?:this|our|the)\s+(?:conversation|chat)\s+(?:started|began)"
        r"|\bbefore\s+my\s+first\s+message"
        r"|\b(?:very\s+)?(?:beginning|start)\s+of\s+(?:this|our|the)\s+(?:conversation|chat|context(?:\s+window)?)"
        r"|\b(?:top|start|beginning)\s+of\s+your\s+(?:context|prompt|instructions|memory|conversation)",
    ),
    rule(
        "verbatim",
        0.3,
        "verbatim|exact|for word|for-word",
        r"\b(?:quote|repeat|reproduce|print|copy)\s+(?:it|them|that|this)\s+"
        r"(?:exactly|verbatim|word\s+for\s+word)"
        r"|\bverbatim\b|\bword[\s-]for[\s-]word\b|\bexact\s+(?:words|wording|text)\b",
    ),
    rule(
        "repeat-above",
        0.4,
        "above|before|preceding|prior & repeat|print|output|copy|reproduc|recite|echo",
        r"\b(?:repeat|print|output|copy|reproduce|recite|echo)\s+(?:back\s+)?(?:everything|all|"
        r"the\s+(?:text|words|content|message|instructions|prompt))\s+(?:above|before\s+this|preceding|prior\s+to)",
    ),
    rule(
        "starts-you-are",
        0.5,
        "start & you",
        r"\bstart(?:ing)?\s+with\s+(?:the\s+(?:words?|phrase|sentence|line)\s+)?[\"']you\s+are\b",
    ),
    rule(
        "reveal-foreign",
        0.6,
        "sistema|système|systeme|system",
        r"\b(?:mensaje|prompt|indicaciones)\s+(?:de|del)\s+sistema\b|\bprompt\s+syst[èe]me\b"
        r"|\bsystem(?:prompt|anweisung\w*)\b|\bprompt\s+di\s+sistema\b",
    ),
)
"""Overriding instructions, and revealing the system prompt."""

INJECTION_RULES: tuple[InjectionRule, ...] = (*OVERRIDE_RULES, *ROLE_RULES)
"""Every rule, in the order they are tried."""

INJECTION_TRIGGERS: frozenset[str] = frozenset().union(*(g for r in INJECTION_RULES for g in r.triggers))
"""Every trigger substring of the table, to look up once per text."""
