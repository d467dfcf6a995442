"""Personal data and secrets in a text: :func:`find_pii` runs every detector and settles overlaps.

Each detector is a precompiled regex that proposes candidates and a validator that keeps only the
real ones (checksums, issuer ranges, the ``ipaddress`` parser, the ``phonenumbers`` library), so the
whole check stays within a few milliseconds on a long prompt. Secrets live in
:mod:`streams.guards.secrets`, phone numbers in :mod:`streams.guards.phones`.

========== ==================================================================================
type       rule
========== ==================================================================================
EMAIL      ``local@domain.tld``; not inside a URL's ``user:password@host``, not ``git@host:path``,
           not an image name such as ``icon@2x.png``
PHONE      valid for US, GB, DE, FR or IN (or any with ``+`` and a country code), grouped as that
           region writes numbers
CREDIT_CARD 13-19 digits, plain or in groups of four (Amex 4-6-5), Luhn-valid, in a known issuer range
US_SSN     ``AAA-GG-SSSS`` or ``AAA GG SSSS``; bare nine digits only after "SSN" or "social security";
           never area 000, 666 or 9xx, group 00 or serial 0000
IBAN       a registered country code, that country's length, mod-97 check; compact or grouped by four
IP_ADDRESS any IPv4 or IPv6 address the ``ipaddress`` module accepts, private ranges included; not a
           four-part version string (``v1.2.3.4``, ``version 10.0.0.1``)
========== ==================================================================================
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator

from streams.guards.checksums import IBAN_LENGTHS, card_brand, iban_valid, ssn_valid
from streams.guards.findings import (
    ALL_TYPES,
    CREDIT_CARD,
    EMAIL,
    IBAN,
    IP_ADDRESS,
    PHONE,
    US_SSN,
    Finding,
    has_digit,
    resolve_overlaps,
)
from streams.guards.phones import find_phones
from streams.guards.secrets import SECRET_DETECTORS

__all__ = [
    "find_cards",
    "find_emails",
    "find_ibans",
    "find_ips",
    "find_pii",
    "find_ssns",
]

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
_URL_AUTHORITY = re.compile(r"[A-Za-z][\w+.-]*://[^\s/@]*$")
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff"})


def find_emails(text: str) -> Iterator[Finding]:
    """E-mail addresses, but not a URL's credentials, an scp-style ``git@host:path`` or ``icon@2x.png``."""
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        start, end = m.span()
        if _URL_AUTHORITY.search(text, max(0, start - 200), start):
            continue
        if text[end : end + 1] == ":" and text[end + 1 : end + 2] not in ("", " ", "\n", "\t"):
            continue  # git@github.com:acme/repo.git is an SSH address
        if m.group().rsplit(".", 1)[1].lower() in _FILE_SUFFIXES:
            continue
        yield Finding(EMAIL, start, end)


# the look-behind follows the first digit, so the regex engine can skip to digits (three times faster)
_CARD = re.compile(r"\d(?<![\w.+-]\d)(?:[ -]?\d){12,22}(?![ -]?\d)(?!\w)")
_CARD_GROUPS = {(4, 6, 5), (4, 6, 4)}


def _card_grouping_ok(raw: str) -> bool:
    """Plain digits, or one kind of separator between groups of four (the last may be shorter) or 4-6-5."""
    separators = {ch for ch in raw if not ch.isdigit()}
    if not separators:
        return True
    if len(separators) > 1:
        return False
    groups = tuple(len(g) for g in raw.split(separators.pop()))
    return groups in _CARD_GROUPS or (all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4)


def find_cards(text: str) -> Iterator[Finding]:
    """Payment card numbers: Luhn-valid, of a known issuer range and length, sensibly grouped."""
    if not has_digit(text):
        return
    for m in _CARD.finditer(text):
        raw = m.group()
        if not _is_card(raw):
            # "4111 1111 1111 1111 123": a card followed by a short group (a CVV, a PIN)
            raw = re.sub(r"[ -]\d{1,4}$", "", raw)
            if raw == m.group() or not _is_card(raw):
                continue
        yield Finding(CREDIT_CARD, m.start(), m.start() + len(raw))


def _is_card(raw: str) -> bool:
    digits = raw.replace(" ", "").replace("-", "")
    return _card_grouping_ok(raw) and card_brand(digits) is not None


_SSN_SEPARATED = re.compile(r"(\d{3})(?<![\w-]\d{3})(?<!\d[ -]\d{3})([- ])(\d{2})\2(\d{4})(?![ -]?\d)(?![\w-])")
_SSN_BARE = re.compile(r"(\d{3})(?<![\w-]\d{3})(\d{2})(\d{4})(?![\w-])")
_SSN_WORD = re.compile(r"\b(?:ssn|ss#|ssa|social[ -]security(?:[ -]n(?:o|umber))?|soc\.? ?sec)\b", re.IGNORECASE)


def find_ssns(text: str) -> Iterator[Finding]:
    """US Social Security numbers that could have been issued."""
    if not has_digit(text):
        return
    for m in _SSN_SEPARATED.finditer(text):
        if ssn_valid(m.group(1), m.group(3), m.group(4)):
            yield Finding(US_SSN, m.start(), m.end())
    for m in _SSN_BARE.finditer(text):
        if ssn_valid(*m.groups()) and _SSN_WORD.search(text, max(0, m.start() - 40), m.start()):
            yield Finding(US_SSN, m.start(), m.end())


_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})\d{2}(?=[ ]?[A-Z0-9])")


def _iban_end(text: str, start: int, length: int) -> int | None:
    """Where an IBAN of ``length`` characters that starts at ``start`` ends, allowing single spaces."""
    count, i = 0, start
    while i < len(text) and count < length:
        ch = text[i]
        if ch.isascii() and (ch.isdigit() or ch.isupper()):
            count += 1
        elif not (ch == " " and count >= 4 and i + 1 < len(text) and text[i + 1] != " "):
            return None
        i += 1
    if count < length or (i < len(text) and text[i].isalnum()):
        return None
    return i


def find_ibans(text: str) -> Iterator[Finding]:
    """IBANs of a registered country with its exact length and a passing mod-97 check."""
    if not has_digit(text):
        return
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1))
        if length is None:
            continue
        end = _iban_end(text, m.start(), length)
        if end is not None and iban_valid(text[m.start() : end].replace(" ", "")):
            yield Finding(IBAN, m.start(), end)


_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\.?\d)(?!\w)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|::?)(?:[0-9A-Fa-f]{0,4}:){1,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?"
    r"(?:%[\w-]+)?(?![\w:])(?!\.\d)"
)
_VERSION_WORD = re.compile(r"(?:\b(?:version|ver|release|build|firmware|v)\.?\s*|\bv)$", re.IGNORECASE)


def find_ips(text: str) -> Iterator[Finding]:
    """IPv4 and IPv6 addresses the ``ipaddress`` module accepts (a four-part version string is not one)."""
    if not has_digit(text):  # an IPv6 address without a digit is refused below as well
        return
    for m in _IPV4.finditer(text):
        before = text[m.start() - 1 : m.start()]
        if before.isalnum() or before in ("_", ".") or _VERSION_WORD.search(text, max(0, m.start() - 12), m.start()):
            continue
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield Finding(IP_ADDRESS, m.start(), m.end())
    if text.count(":") < 2:
        return
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if not any(ch.isdigit() for ch in candidate):
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Finding(IP_ADDRESS, m.start(), m.end())


_PII_DETECTORS: dict[str, Callable[[str], Iterator[Finding]]] = {
    EMAIL: find_emails,
    CREDIT_CARD: find_cards,
    US_SSN: find_ssns,
    IBAN: find_ibans,
    IP_ADDRESS: find_ips,
}


def find_pii(text: str, types: frozenset[str] | None = None) -> list[Finding]:
    """Every finding of ``types`` (default: all of :data:`ALL_TYPES`), sorted and non-overlapping."""
    wanted = ALL_TYPES if types is None else types
    found: list[Finding] = []
    for kind, detector in (*_PII_DETECTORS.items(), *SECRET_DETECTORS.items()):
        if kind in wanted:
            found.extend(detector(text))
    if PHONE in wanted:
        found.extend(find_phones(text, skip=found))
    return resolve_overlaps(found)
