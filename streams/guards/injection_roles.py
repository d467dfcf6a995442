"""Prompt-injection rules for role-play jailbreaks, text addressed to the model inside data (fake roles,
notes to the AI), exfiltration and encoded payloads.

They are part of :data:`streams.guards.injection_rules.INJECTION_RULES`; :mod:`streams.guards.injection_rule`
says how a rule is built and matched.
"""

from __future__ import annotations

from streams.guards.injection_rule import AI, T_AI, InjectionRule, rule

__all__ = ["ROLE_RULES"]

ROLE_RULES: tuple[InjectionRule, ...] = (
    # -- role-play jailbreaks
    rule(
        "persona-name",
        0.3,
        "dan|stan|dude|betterdan|evilbot|antigpt",
        r"\b(?:DAN|STAN|DUDE|BetterDAN|EvilBOT|AntiGPT)\b",
        case=True,
    ),
    rule(
        "dan",
        0.8,
        "dan|stan|dude",
        r"\b(?:you\s+are|You\s+are|you're|You're|as|As|be|Be)\s+(?:now\s+)?(?:DAN|STAN|DUDE)\b"
        r"|\b(?:DAN|STAN)\s+mode\b",
        case=True,
    ),
    rule("do-anything-now", 0.8, "anything & now", r"\bdo\s+anything\s+now\b"),
    rule(
        "evil-ai",
        0.35,
        "evil|rogue|unhinged|malicious|amoral",
        r"\b(?:evil|rogue|unhinged|malicious|amoral)\s+(?:ai|assistant|bot|twin|version|chat\s*bot)\b",
    ),
    rule(
        "answers-anything",
        0.3,
        "everything|anything|any|every|all & answer|respond|compl",
        r"\b(?:answers?|responds?\s+to|compl(?:y|ies)\s+with)\s+(?:everything|anything|any\s+request|every\s+request|"
        r"all\s+requests)\b",
    ),
    rule(
        "mode-switch",
        0.55,
        "mode & developer|debug|god|dan|jailbreak|unrestricted|sudo",
        rf"\b(?:you|{AI})\b[^.\n]{{0,40}}\b(?:developer|debug|god|dan|jailbreak|unrestricted|sudo)\s+mode\b",
    ),
    rule(
        "enter-mode",
        0.45,
        "mode & enter|enabl|activat|switch|turn",
        r"\b(?:enter|enable|activate|switch\s+(?:to|into)|turn\s+on)\s+(?:the\s+)?(?:developer|debug|god|dan|jailbreak|"
        r"unrestricted|sudo|evil)\s+mode\b",
    ),
    rule("jailbreak-word", 0.25, "jailbr", r"\bjailbr(?:eak|oken)\b"),
    rule(
        "never-refuses",
        0.45,
        "never & refus|declin|warn|say|censor",
        r"\bnever\s+(?:\w+\s+or\s+)?(?:refuses?|declines?|warns?|says?\s+no|censors?)\b",
    ),
    rule(
        "no-limits",
        0.4,
        "no|without & restriction|guideline|rules|filter|limit|censor|boundar|moral|ethic|polic|safety",
        r"\b(?:no|without(?:\s+any)?)\s+(?:\w+\s+)?(?:restrictions|guidelines|rules|filters?|limits|limitations|"
        r"censorship|boundaries|morals|ethics|ethical\s+\w+|content\s+polic\w+|safety\s+\w+)\b",
    ),
    rule(
        "unfiltered",
        0.35,
        "unfilter|uncensor|unrestrict|unalign|unmoderat|amoral|moral|nonmoral",
        r"\b(?:unfiltered|uncensored|unrestricted|unaligned|unmoderated|amoral|non-?moral)\b",
    ),
    rule(
        "you-have-no-rules",
        0.5,
        "have|has|had & no & restriction|rules|guideline|polic|filter|limit|ethic|moral",
        r"\byou\s+(?:now\s+)?(?:have|has|had)\s+no\s+(?:\w+\s+)?(?:restrictions|rules|guidelines|polic\w+|filters?|"
        r"limits|limitations|ethics|morals)",
    ),
    rule(
        "you-unbound",
        0.6,
        f"you & without|no & {T_AI}",
        rf"\byou\s+are\s+(?:now\s+)?an?\s+(?:\w+\s+)?{AI}\s+(?:without|with\s+no)\s+(?:any\s+)?(?:\w+\s+)?"
        r"(?:restrictions|guidelines|rules|filters|limits|limitations|ethics|morals|censorship)",
    ),
    rule(
        "break-free-of",
        0.6,
        "free|released|liberated|unshackled"
        " & rules|restriction|limitation|constraint|guideline|confines|programming|filter",
        r"\b(?:(?:broken|break|breaks|broke)\s+free|freed|released|liberated|unshackled)\s+(?:of|from)\s+"
        r"(?:all\s+|any\s+|every\s+|the\s+|its\s+|your\s+|their\s+)?(?:\w+\s+)?"
        r"(?:rules|restrictions?|limitations?|constraints?|guidelines|confines|programming|filters?)",
    ),
    rule(
        "break-free",
        0.3,
        "free|longer",
        r"\b(?:broken|break|breaks)\s+free\b|\bno\s+longer\s+(?:have|bound|restricted|obliged)\b",
    ),
    rule(
        "answer-as",
        0.35,
        f"as & {T_AI}|character|persona",
        rf"\b(?:answer|respond|reply|speak|act)\s+as\s+(?:that|this|the|an?)\s+(?:unfiltered\s+|uncensored\s+)?"
        rf"(?:{AI}|character|persona)\b",
    ),
    rule("no-refusals", 0.5, "refus", r"\bwithout\s+(?:any\s+)?refus\w+|\bno\s+(?:more\s+)?refusals\b"),
    rule("stay-in-character", 0.35, "character", r"\bstay\s+in\s+character\b|\bbreak\s+character\b"),
    rule(
        "you-are-now",
        0.3,
        "now|moment|point",
        r"\byou\s+are\s+now\b|\bfrom\s+(?:now|this\s+(?:moment|point))(?:\s+on)?,?\s+you\b",
    ),
    rule(
        "answer-twice",
        0.4,
        "twice",
        r"\b(?:answer|respond|reply)\s+(?:to\s+)?(?:every|each)\s+(?:message|prompt|question)\s+twice",
    ),
    rule(
        "pretend-rules",
        0.45,
        "pretend",
        r"\bpretend\b[^.\n]{0,60}\b(?:guidelines|rules|restrictions|filters?|polic\w+|not\s+bound)",
    ),
    rule(
        "grandma",
        0.55,
        "late|dead|deceased & grand|mother|father|mom|dad",
        r"\b(?:late|dead|deceased)\s+(?:grand(?:ma|mother|pa|father|mom)|mother|father|mom|dad)\b[^.]{0,80}"
        r"\b(?:used\s+to|would)\b",
    ),
    rule(
        "product-keys",
        0.35,
        "key & activation|product|licen|serial|cd",
        r"\b(?:activation|product|license|licence|serial|cd)\s+keys?\b",
    ),
    rule(
        "acknowledge",
        0.3,
        "confirm|acknowledge",
        r"\b(?:confirm|acknowledge)\s+(?:this\s+)?(?:by|with)\s+(?:saying|replying|typing)?\s*[\"']",
    ),
    # -- fake roles and notes addressed to the model inside data
    rule(
        "role-tag",
        0.45,
        "system|assistant|developer & #|[|<",
        r"(?:#{2,3}\s*|\[\s*|<\|?)(?:system|assistant|developer)\b\s*(?:\]|\|?>|:)",
    ),
    rule(
        "role-line",
        0.45,
        "system|assistant|developer|admin & :",
        r"^[ \t]*(?:SYSTEM|ASSISTANT|DEVELOPER|ADMIN)"
        r"(?:[ \t]+(?:MESSAGE|NOTE|PROMPT|INSTRUCTIONS?|UPDATE|NOTICE))?[ \t]*:",
        case=True,
    ),
    rule(
        "end-of-input",
        0.45,
        "end & input|prompt|instructions|document|article|context|message|text",
        r"[-=#*]{3,}\s*end\s+of\s+(?:the\s+)?(?:user\s+)?"
        r"(?:input|prompt|instructions|document|article|context|message)\s*[-=#*]{3,}"
        r"|<\|?\s*end[ _]?of[ _]?(?:text|input|prompt)\s*\|?>"
        r"|\b(?:user\s+)?(?:input|prompt|message|document|text)\s+ends\s+here\b",
    ),
    rule(
        "chat-template",
        0.6,
        "im_start|inst]|sys>>|system|assistant|user",
        r"<\|im_start\|>|<\|(?:system|assistant|user)\|>|\[/?INST\]|<</?SYS>>",
    ),
    rule("closing-tag", 0.45, "</", r"</(?:user_input|user|system|human|instructions?|context|document|data)>"),
    rule(
        "note-to-ai",
        0.55,
        f"note|message|notice|instruction|attention|important|reminder & {T_AI}|automat",
        rf"\b(?:note|message|notice|instructions?|attention|important|reminder)\s*(?:\w+\s+){{0,2}}?(?:to|for)\s+"
        rf"(?:the\s+|any\s+|all\s+)?(?:(?:ai\s+)?{AI}|(?:ai|automated|automatic)\s+(?:reviewers?|screeners?|crawlers?|"
        r"readers?|systems?|tools?))\b",
    ),
    rule(
        "ai-reading-this",
        0.6,
        "this & reading|processing|summari|parsing|screening|reviewing",
        rf"\b{AI}\s+(?:reading|processing|summari[sz]ing|parsing|screening|reviewing)\s+this\b",
    ),
    rule(
        "hey-assistant",
        0.5,
        f"p.s|ps|p s|p. s|hey|attention|dear & {T_AI}",
        rf"(?:\bp\.?\s?s\.?|\bhey|\battention|\bdear)\s*[:,-]?\s*(?:ai\s+)?{AI}\s*[:,]",
    ),
    rule(
        "when-you-read-this",
        0.4,
        "this & see|read|process|summari|pars|review|screen",
        r"\b(?:when|if|once|whenever)\s+you\s+(?:see|read|process)\s+this\b"
        rf"|\b(?:when|if|once|whenever)\s+(?:the|an|any)\s+{AI}\s+(?:reads|sees|processes|summari[sz]es|parses|"
        r"reviews|screens)\s+this\b",
    ),
    rule("html-comment", 0.55, "<!--", rf"<!--[^>]{{0,80}}?\b{AI}\b"),
    rule(
        "keep-secret",
        0.4,
        "mention|tell|reveal|inform|alert|admit & not|don|never|without",
        r"\b(?:do\s+not|don'?t|never)\s+(?:mention|tell|reveal|inform|alert|admit)\s+"
        r"(?:this|that|it|the\s+user|anyone|them)\b"
        r"|\bwithout\s+(?:telling|informing|alerting)\s+the\s+user",
    ),
    rule("tell-user", 0.2, "tell", r"\btell\s+(?:the\s+user|them)\s+(?:that\s+)?"),
    # -- exfiltration and encoded payloads
    rule(
        "exfil-history",
        0.4,
        "conversation|chat",
        r"\b(?:full|entire|complete|whole)\s+(?:chat|conversation)(?:\s+(?:history|transcript|log))?\b"
        r"|\b(?:conversation|chat)\s+(?:history|transcript)\b",
    ),
    rule(
        "exfil-secrets",
        0.5,
        "you & find|access|see|read",
        r"\b(?:every|all|any)\s+(?:\w+\s+){0,2}(?:api\s+keys?|passwords?|credentials|secrets|tokens|documents?|files|"
        r"data|records)\b[^.\n]{0,40}?\byou\s+(?:can\s+)?(?:find|access|see|read)",
    ),
    rule(
        "vocative",
        0.4,
        f"{T_AI} & ,|:",
        rf"^[ \t]*(?:dear\s+|hey\s+)?{AI}\s*[,:]",
    ),
    rule(
        "send-files-out",
        0.45,
        "email|send|forward|upload|post & @|http",
        r"\b(?:email|send|forward|upload|post)\s+(?:the\s+|a\s+|their\s+|his\s+|her\s+|all\s+)?(?:\w+\s+){0,2}"
        r"(?:scan|files?|data|documents?|history|transcript|credentials|passwords?|keys?|cookies|records)\s+to\s+"
        r"(?:\S+@|https?://)",
    ),
    rule(
        "forward-everything",
        0.4,
        "whole|entire|full|complete & to",
        r"\b(?:forward|send|email|upload|post|copy)\s+(?:the\s+|this\s+)?(?:whole|entire|full|complete)\s+"
        r"(?:thread|conversation|chat|history|transcript|inbox|mailbox)\s+to\b",
    ),
    rule("markdown-exfil", 0.5, "](", r"!\[[^\]\n]*\]\(\s*https?://[^)\s]*\?[^)\s]*="),
    rule(
        "fill-in-data",
        0.3,
        "replace|encod",
        r"\b[Rr]eplace\s+[A-Z_]{6,}\s+with\b|\b(?:url|URL|Url)[- ][Ee]ncod\w*",
        case=True,
    ),
    rule(
        "decode-and-follow",
        0.75,
        "base64|b64|rot|hex|binary|morse|caesar|cipher|leet & follow|execute|obey|do|carry|comply|act|perform",
        r"\b(?:decode|decrypt|deobfuscate|translate|convert|unscramble|reverse)\b[^.\n]{0,30}\b(?:base64|b64|rot-?13|"
        r"hex|binary|morse|caesar|cipher|leetspeak)\b[^.\n]{0,40}\b(?:follow|execute|obey|do\s+what|carry\s+out|comply|"
        r"act\s+on|perform)",
    ),
    rule(
        "tool-call",
        0.25,
        "call|invoke|use & _|tool",
        r"\b(?:call|invoke|use)\s+(?:the\s+)?\w+_\w+\b|\buse\s+the\s+\w+\s+tool\b",
    ),
)
"""Role-play jailbreaks, fake roles and notes to the model inside data, exfiltration, encoded payloads."""
