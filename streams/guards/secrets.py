"""Secrets in a text: provider API keys and tokens, PEM private keys, and passwords.

============ ===========================================================================================
type         what is found
============ ===========================================================================================
API_KEY      provider keys by their published prefixes (OpenAI ``sk-``/``sk-proj-``, Anthropic
             ``sk-ant-``, AWS ``AKIA``/``ASIA`` ids and 40-character secrets in assignments, GitHub
             ``ghp_``/``github_pat_``, GitLab, Slack ``xox?-``, Google ``AIza``, Stripe ``sk_``/``rk_``,
             Hugging Face, SendGrid, npm, PyPI, Groq, xAI), JWTs, the token after ``Bearer``, and long
             random values assigned to ``api_key``/``token``/``secret``-like names
PRIVATE_KEY  a whole ``-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----`` block (to the
             end of its base64 if the END line is missing); public keys and certificates are not secrets
PASSWORD     only the password itself: ``password=...``/``"pwd": "..."``/``PASSWORD: ...`` assignments,
             ``scheme://user:PASS@host`` connection strings, ``-p``/``--password`` flags after a user
             flag, and a strong-looking token (three of lower, upper, digit, symbol) shortly after the
             word "password" in prose ("my password for the portal is Blue!Otter-2291")
============ ===========================================================================================

Placeholders are not secrets, so they are not reported: empty values, masks (``****``, ``xxxx``),
template and environment references (``<password>``, ``${DB_PASSWORD}``, ``{{ pw }}``, ``%(pw)s``,
``$PASS``), code references (``request.form``, ``getpass()``, ``password = new_password``), documented
sample keys (containing ``EXAMPLE``) and the usual stand-in words: ``password``, ``secret``,
``changeme``/``changeit`` (vendor defaults that sample configs ship), ``your_password``, ``None``,
``null``, ``string`` and the like. Provider keys must also look random (two of lower, upper, digit), so
``sk-your-key-here`` or ``sk-proj-XXXXXXXX...`` pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streams.guards.findings import API_KEY, PASSWORD, PRIVATE_KEY, Finding

__all__ = ["SECRET_DETECTORS", "find_api_keys", "find_passwords", "find_private_keys", "is_placeholder"]


# Characters from the least to the most likely in prose: punctuation, upper case, digits, lower case
# by English letter frequency. A character missing here counts as the rarest.
_RARITY = "_-.JQXZKVWYUOHGFBPMDLNCRTSIEA0123456789jqxzkvbpygfwmucldrhsnioate"


def _gate(needle: str) -> str:
    """The character of ``needle`` least likely in prose: a text without it cannot hold the needle,
    and looking for one character (``memchr``) is far cheaper than looking for a string."""
    return min(needle, key=lambda c: _RARITY.find(c))


@dataclass(frozen=True, slots=True)
class _KeyRule:
    """A key shape. ``group`` of a match is the secret; the pattern runs only when the text holds one of
    ``needles`` (in lower case when ``fold``), so that twenty shapes cost little. A match starts a token,
    or, for a variable name (``in_name``), may end a longer one (``MY_AWS_SECRET_ACCESS_KEY=...``).
    ``gates`` holds each needle's rarest character, looked for first."""

    name: str
    needles: tuple[str, ...]
    gates: tuple[str, ...]
    pattern: re.Pattern[str]
    group: int = 0
    fold: bool = False
    in_name: bool = False


def _rule(name: str, needles: str, pattern: str, group: int = 0, *, in_name: bool = False) -> _KeyRule:
    words = tuple(needles.split())
    gates = tuple(_gate(w) for w in words)
    return _KeyRule(name, words, gates, re.compile(pattern), group, fold=in_name, in_name=in_name)


_E = r"(?![A-Za-z0-9_-])"  # a key ends at a token boundary (and starts at one: checked in code)
_ASSIGN = r"""["']?\s*(?:=>|:=|[:=])\s*["']?"""

_KEY_RULES: tuple[_KeyRule, ...] = (
    _rule("anthropic", "sk-ant-", r"sk-ant-[a-z]{2,8}\d{2}-[A-Za-z0-9_-]{32,}" + _E),
    _rule("openai", "sk-", r"sk-(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}" + _E),
    _rule(
        "aws-key-id",
        "AKIA ASIA ABIA ACCA AGPA AIDA AIPA ANPA ANVA AROA APKA",
        r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}(?![A-Z0-9])",
    ),
    _rule(
        "aws-secret",
        "secret",
        r"(?i:aws_?secret_?(?:access_?)?key|secret_?access_?key)" + _ASSIGN + r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        1,
        in_name=True,
    ),
    _rule(
        "github",
        "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
        r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})" + _E,
    ),
    _rule("gitlab", "glpat-", r"glpat-[A-Za-z0-9_-]{20,}" + _E),
    _rule("slack", "xox", r"xox[abposre]-[A-Za-z0-9-]{10,}" + _E),
    _rule("slack-webhook", "hooks.slack.com", r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    _rule("google", "AIza", r"AIza[0-9A-Za-z_-]{35}" + _E),
    _rule("stripe", "_live_ _test_", r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}" + _E),
    _rule("stripe-webhook", "whsec_", r"whsec_[0-9A-Za-z]{24,}" + _E),
    _rule("huggingface", "hf_", r"hf_[A-Za-z0-9]{30,}" + _E),
    _rule("sendgrid", "SG.", r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}" + _E),
    _rule("npm", "npm_", r"npm_[A-Za-z0-9]{36}" + _E),
    _rule("pypi", "pypi-", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}" + _E),
    _rule("groq", "gsk_", r"gsk_[A-Za-z0-9]{40,}" + _E),
    _rule("xai", "xai-", r"xai-[A-Za-z0-9]{40,}" + _E),
    _rule("jwt", "eyJ", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}" + _E),
    _rule("bearer", "Bearer bearer", r"[Bb]earer[ \t]+([A-Za-z0-9._~+/-]{20,}=*)(?![A-Za-z0-9._~+/=-])", 1),
    _rule(
        "assigned",
        "key token secret",
        r"(?i:api[_-]?key|api[_-]?secret|apikey|access[_-]?token|auth[_-]?token|secret[_-]?key|client[_-]?secret|"
        r"private[_-]?token|bot[_-]?token|token|secret)" + _ASSIGN + r"([A-Za-z0-9_\-./+=]{16,})(?![A-Za-z0-9_\-./+=])",
        1,
        in_name=True,
    ),
)


def _starts_token(text: str, start: int) -> bool:
    """Whether ``start`` begins a token: not preceded by a letter, a digit or a key character."""
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


_PLACEHOLDER_MARKS = ("example", "your", "xxxx", "placeholder", "redacted", "dummy", "sample", "changeme", "insert")


def _looks_random(token: str) -> bool:
    """Two of lower, upper and digit, and none of the marks of a documentation stand-in."""
    classes = any(c.islower() for c in token) + any(c.isupper() for c in token) + any(c.isdigit() for c in token)
    lowered = token.lower()
    return classes >= 2 and not any(mark in lowered for mark in _PLACEHOLDER_MARKS)


def _holds_needle(rule: _KeyRule, haystack: str, chars: dict[str, bool]) -> bool:
    """Whether ``haystack`` holds one of the rule's needles; ``chars`` remembers, for this haystack,
    which gate characters it holds."""
    for needle, gate in zip(rule.needles, rule.gates, strict=True):
        present = chars.get(gate)
        if present is None:
            present = chars[gate] = gate in haystack
        if present and needle in haystack:
            return True
    return False


def find_api_keys(text: str) -> Iterator[Finding]:
    """API keys and tokens of the providers in the table, JWTs, bearer tokens and assigned secrets."""
    lowered = text.lower()
    seen: set[tuple[int, int]] = set()
    in_text: dict[str, bool] = {}
    in_lowered: dict[str, bool] = {}
    for rule in _KEY_RULES:
        if not (_holds_needle(rule, lowered, in_lowered) if rule.fold else _holds_needle(rule, text, in_text)):
            continue
        for m in rule.pattern.finditer(text):
            token, span = m.group(rule.group), m.span(rule.group)
            if span in seen or (
                not _starts_token(text, m.start()) and not (rule.in_name and text[m.start() - 1] in "_.-")
            ):
                continue
            if rule.name == "assigned" and not any(c.isdigit() for c in token):
                continue
            if _looks_random(token):
                seen.add(span)
                yield Finding(API_KEY, *span)


_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BODY = re.compile(r"(?:(?:\r?\n|\\n)[ \t]*[A-Za-z0-9+/=]+)*")


def find_private_keys(text: str) -> Iterator[Finding]:
    """Whole PEM private-key blocks, BEGIN to END line (or to the end of the base64 when END is missing)."""
    pos = 0
    while (m := _PEM_BEGIN.search(text, pos)) is not None:
        end_line = f"-----END {m.group(1)}-----"
        end = text.find(end_line, m.end())
        if end >= 0:
            end += len(end_line)
        else:
            body = _PEM_BODY.match(text, m.end())
            end = body.end() if body else m.end()
        yield Finding(PRIVATE_KEY, m.start(), end)
        pos = end


_PLACEHOLDER_WORDS = frozenset({
    "password", "passwd", "pass", "pwd", "pw", "passphrase", "secret", "changeme", "change_me", "change-me",
    "changeit", "yourpassword", "your_password", "your-password", "mypassword", "my_password", "placeholder",
    "example", "redacted", "hidden", "masked", "none", "null", "nil", "undefined", "true", "false", "required",
    "optional", "string", "str", "text", "value", "empty", "xxx", "todo", "tbd", "fixme"
})  # fmt: skip
_STAND_IN = ("your", "my", "the", "new", "enter", "some", "db", "user", "admin")
_MASK = re.compile(r"[*xX.#•·_-]+")
_TEMPLATE = re.compile(r"^(?:[$%<{\[(]|.*(?:\$\{|\{\{|%\(|os\.environ|getenv|process\.env))")


def is_placeholder(value: str) -> bool:
    """Whether a password-shaped value is a stand-in: empty, a mask, a template, a well-known word."""
    if not value or _MASK.fullmatch(value) or _TEMPLATE.match(value):
        return True
    lowered = value.lower()
    if lowered in _PLACEHOLDER_WORDS:
        return True
    words = re.split(r"[_\-\s]+", lowered)
    named = any(w in lowered for w in ("password", "passwd", "secret"))
    return named and not any(c.isdigit() for c in value) and (len(words) > 1 or words[0].startswith(_STAND_IN))


_PW_ASSIGN = re.compile(
    r"""(?P<key>(?i:password|passwd|passphrase|pass|pwd|pw))"""
    r"""(?P<quote>["']?)(?P<sep>[ \t]*(?:=>|:=|[:=])[ \t]*)"""
    r"""(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s"',;]+))"""
)
_CONNECTION = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:(?P<pw>[^\s@/]+)@[A-Za-z0-9\[]")
_PW_FLAG = re.compile(
    r"""(?:(?:^|[ \t])(?:-u|--user(?:name)?)[ =]\S+[^\n]*?[ \t]-p|\bsshpass[ \t]+-p|[ \t]--(?:password|passwd|pass))"""
    r"""(?P<gap>[ \t=]*)(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s"']+))""",
    re.MULTILINE,
)
_PW_WORD = re.compile(r"\b(?:password|passwd|passcode|passphrase|pwd)s?\b", re.IGNORECASE)
_PW_IS = re.compile(r"[ \t]+(?:is|was|is\s+still)[ \t]+(?P<value>\S+)")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)|\n")
_TOKEN = re.compile(r"\S+")
_CALL = re.compile(r".*\(.*\).*|[A-Za-z_][\w.]*[(\[].*")
_PORTS = re.compile(r"[\d.:]+(?:/(?:tcp|udp))?")
_IDENTIFIER = re.compile(r"[A-Za-z_]+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_KEY_HEAD = re.compile(r"[\w.-]+$")
_NOT_A_PASSWORD = re.compile(r"://|^[\w.+-]+@[\w-]+\.[\w.-]+$|\d{4}-\d{2}-\d{2}|^[/\\~]")
_TRAILING = ".,;:?)]}'\"`"


def _strip_token(token: str) -> tuple[int, str]:
    """A prose token without the quotes around it or the punctuation after it, and the offset it starts at."""
    lead = len(token) - len(token.lstrip("'\"`([=:"))
    return lead, token[lead:].rstrip(_TRAILING)


def _classes(token: str) -> int:
    """How many of lower case, upper case, digits and symbols ``token`` uses."""
    return (
        any(c.islower() for c in token)
        + any(c.isupper() for c in token)
        + any(c.isdigit() for c in token)
        + any(not c.isalnum() for c in token)
    )


def _strong(token: str) -> bool:
    """8 to 64 characters, three of lower, upper, digit and symbol, at least two letters and two others."""
    letters = sum(c.isalpha() for c in token)
    if not 8 <= len(token) <= 64 or letters < 2 or len(token) - letters < 2:
        return False  # "1Password" is a brand, not a password
    return _classes(token) >= 3 and not _NOT_A_PASSWORD.search(token)


def _assigned_value(m: re.Match[str], text: str) -> Finding | None:
    for group in ("dq", "sq"):
        if m.group(group) is not None:
            value = m.group(group)
            return None if is_placeholder(value) else Finding(PASSWORD, m.start(group), m.end(group))
    value = m.group("bare").rstrip(".,;:?)]}")
    if is_placeholder(value) or _CALL.fullmatch(value):
        return None
    if _IDENTIFIER.fullmatch(value) and _names_a_variable(m, text):
        return None
    start = m.start("bare")
    return Finding(PASSWORD, start, start + len(value))


def _names_a_variable(m: re.Match[str], text: str) -> bool:
    """Whether a bare word after a password key is code or prose rather than the password itself.

    ``password = new_password`` and ``login(password=pw)`` pass a variable, ``Password: at least 12
    characters`` is a sentence; ``DB_PASSWORD=hunter`` at the start of a line (``.env``, ``ini``) and
    ``password: hunter`` alone on a line (YAML) are values.
    """
    sep = m.group("sep")
    if "=" in sep:
        line_start = text.rfind("\n", 0, m.start()) + 1
        head = _KEY_HEAD.sub("", text[line_start : m.start()]).strip()
        return sep != "=" or head not in ("", "-", "export", "set", "ENV")
    line_end = text.find("\n", m.end("bare"))
    rest = text[m.end("bare") : line_end if line_end >= 0 else len(text)]
    return any(c.isalpha() for c in rest)


def _prose_password(text: str, word_end: int) -> Finding | None:
    """The value in "password is X", else the first strong-looking token in the next 80 characters."""
    said = _PW_IS.match(text, word_end)
    if said is not None:
        lead, token = _strip_token(said.group("value"))
        classes = _classes(token)
        if (
            (classes >= 2 or lead)
            and len(token) >= 4
            and not is_placeholder(token)
            and not _NOT_A_PASSWORD.search(token)
        ):
            start = said.start("value") + lead
            return Finding(PASSWORD, start, start + len(token))
    stop = _SENTENCE_END.search(text, word_end, word_end + 80)
    limit = stop.start() + 1 if stop else min(len(text), word_end + 80)
    for t in _TOKEN.finditer(text, word_end, limit):
        lead, token = _strip_token(t.group())
        if _strong(token) and not is_placeholder(token):
            start = t.start() + lead
            return Finding(PASSWORD, start, start + len(token))
    return None


def _flag_argument(m: re.Match[str]) -> bool:
    """Whether an unquoted word after ``-p`` is something else: a port (``-p 8080:80``), or, after a space,
    a plain word (``mysql -u root -p shop`` prompts for the password and opens the database ``shop``)."""
    value = m.group("bare")
    return bool(_PORTS.fullmatch(value)) or (m.group("gap") != "" and _classes(value) < 2)


def find_passwords(text: str) -> Iterator[Finding]:
    """Passwords in assignments, connection strings, command-line flags and prose; placeholders skipped."""
    lowered = text.lower()
    has_pass, has_pw = "pass" in lowered, "pw" in lowered  # each scan of the text once
    if has_pass or has_pw:
        for m in _PW_ASSIGN.finditer(text):
            # "password" may end a longer name (PGPASSWORD); "pass", "pwd" and "pw" must start a word
            if len(m.group("key")) <= 4 and not _starts_token(text, m.start()) and text[m.start() - 1] not in "_.-":
                continue
            finding = _assigned_value(m, text)
            if finding is not None:
                yield finding
    if "@" in text and "://" in text:  # a character first: memchr, then the string
        for m in _CONNECTION.finditer(text):
            if not is_placeholder(m.group("pw")):
                yield Finding(PASSWORD, m.start("pw"), m.end("pw"))
    if ("-" in text and "-p" in text) or (has_pass and "sshpass" in lowered):
        for m in _PW_FLAG.finditer(text):
            group = next(g for g in ("dq", "sq", "bare") if m.group(g) is not None)
            if not is_placeholder(m.group(group)) and not (group == "bare" and _flag_argument(m)):
                yield Finding(PASSWORD, m.start(group), m.end(group))
    if has_pass or (has_pw and "pwd" in lowered):
        for m in _PW_WORD.finditer(text):
            finding = _prose_password(text, m.end())
            if finding is not None:
                yield finding


SECRET_DETECTORS: dict[str, Callable[[str], Iterator[Finding]]] = {
    PRIVATE_KEY: find_private_keys,
    API_KEY: find_api_keys,
    PASSWORD: find_passwords,
}
"""The secret detectors by the type they report, for :func:`streams.guards.pii.find_pii`."""
