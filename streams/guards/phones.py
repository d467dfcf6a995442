"""Phone numbers, found and validated by the ``phonenumbers`` library (Google's libphonenumber).

No phone regex of our own decides anything: a cheap scan only picks the runs of digits long enough to
be a phone number (at least seven digits), so the library's matcher parses a few short windows rather
than the whole prompt once per region. The matcher runs at ``STRICT_GROUPING`` leniency: the number
must be valid for its region *and* grouped the way that region writes numbers, which turns away ticket
ids (``4829-1177-3024``), version strings and IMEIs that happen to be valid digit sequences.

A run of more than 20 digits is not one number: a list ("020 7946 0958 / 0161 496 0000") is cut at
its slashes and double spaces, and a table of numbers is left alone rather than parsed at length.

Two rules on top of the library, both for numbers written without a country code:

- a bare run of digits (``4155550132``) counts only after a phone word (call, phone, tel, mobile, ...),
  because bare runs are far more often routing numbers, order ids or timestamps;
- a number right after an id word (order, invoice, ticket, tracking, routing, IMEI, ...) is not a phone.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

from streams.guards.findings import PHONE, Finding, has_digit

__all__ = ["DEFAULT_PHONE_REGIONS", "find_phones"]

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN")
"""Regions whose national formats are recognised; numbers with ``+`` and a country code are found anywhere."""

_MIN_DIGITS = 7
_MAX_DIGITS = 20  # E.164 allows 15, plus an international prefix and a little slack
_WINDOW = re.compile(r"(?:\+|\(\+?)?\d[\d \t().\-/]*\d")
_CONTEXT = 2  # characters either side of a window the matcher sees, to judge its boundaries
_PHONE_WORD = re.compile(
    r"\b(?:phones?|tel|telephone|mobile|cell|call(?:ed|ing)?|text(?:ed)?|sms|fax|whatsapp|dial|contact|reach|ring|"
    r"landline|ph|mob)\b",
    re.IGNORECASE,
)
_ID_WORD = re.compile(
    r"\b(?:order|invoice|inv|ticket|case|tracking|track|routing|aba|account|acct|imei|isbn|sku|serial|ref|"
    r"reference|id|vat|transaction|txn|confirmation|booking|po|part|item|batch|lot|build|version)\b"
    r"(?:\s*(?:#|:|-|no\.?|nr\.?|num|number|is|id))*\s*$",
    re.IGNORECASE,
)
_LIST_PIECE = re.compile(r"(?:\+|\(\+?)?\d(?:[\d().\-]|[ \t](?![ \t/]))*\d")
_DECIMAL = re.compile(r"-?\d{1,3}\.\d{4,}")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}|\d{4}/\d{1,2}/\d{1,2}")


def find_phones(
    text: str,
    regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
    skip: Sequence[Finding] = (),
) -> list[Finding]:
    """Valid phone numbers of ``regions`` (and any with a country code), leaving out runs inside ``skip``."""
    if not has_digit(text):
        return []
    found: dict[tuple[int, int], Finding] = {}
    for start, end in _windows(text):
        raw = text[start:end]
        digits = "".join(ch for ch in raw if ch.isdigit())
        if not _MIN_DIGITS <= len(digits) <= _MAX_DIGITS or _DECIMAL.fullmatch(raw) or _DATE.fullmatch(raw):
            continue
        if any(f.start <= start and end <= f.end for f in skip):
            continue
        international = raw.lstrip("(").startswith("+") or digits.startswith("00")
        if not international and not _may_be_national(text, start, raw):
            continue
        lo = max(0, start - _CONTEXT)
        piece = text[lo : end + _CONTEXT]
        for region in regions[:1] if international else _national_regions(digits, tuple(regions)):
            matches = list(PhoneNumberMatcher(piece, region, leniency=Leniency.STRICT_GROUPING))
            for match in matches:
                finding = _accept(text, lo + match.start, lo + match.end)
                if finding is not None:
                    found[(finding.start, finding.end)] = finding
            if sum(sum(ch.isdigit() for ch in m.raw_string) for m in matches) >= len(digits):
                break  # every digit of the window is in a number of this region: no need to try others
    return sorted(found.values(), key=lambda f: (f.start, f.end))


def _windows(text: str) -> Iterator[tuple[int, int]]:
    """Runs of digits and separators; a run too long for one number (a list) is cut at slashes and gaps."""
    for window in _WINDOW.finditer(text):
        start, end = window.span()
        if sum(ch.isdigit() for ch in window.group()) <= _MAX_DIGITS:
            yield start, end
            continue
        for piece in _LIST_PIECE.finditer(text, start, end):
            yield piece.span()


def _may_be_national(text: str, start: int, raw: str) -> bool:
    """Not after an id word ("order 4155550132"), and a bare digit run only after a phone word."""
    before = text[max(0, start - 40) : start]
    if _ID_WORD.search(before):
        return False
    return not raw.isdigit() or _PHONE_WORD.search(before) is not None


def _national_regions(digits: str, regions: tuple[str, ...]) -> tuple[str, ...]:
    """The regions a number written without a country code may belong to, likeliest first.

    Regions whose trunk prefix the digits start with come first (``020 ...`` is tried as GB, DE, FR,
    IN); then those whose numbers are also written without their trunk prefix (US, IN); a region that
    always writes its trunk prefix (GB, DE, FR: ``0``) is not tried for digits that lack it.
    """
    first, rest = [], []
    for region in regions:
        prefix, optional = _trunk_prefix(region)
        if prefix and digits.startswith(prefix):
            first.append(region)
        elif optional:
            rest.append(region)
    return (*first, *rest)


@functools.cache
def _trunk_prefix(region: str) -> tuple[str | None, bool]:
    """A region's national (trunk) prefix, and whether its numbers may be written without it."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None, True
    optional = metadata.national_prefix is None or any(
        f.national_prefix_optional_when_formatting for f in metadata.number_format
    )
    return metadata.national_prefix, optional


def _accept(text: str, start: int, end: int) -> Finding | None:
    raw = text[start:end]
    if raw.startswith("(") and ")" not in raw:
        start += 1
        raw = raw[1:]
    if sum(ch.isdigit() for ch in raw) < _MIN_DIGITS:
        return None
    if not raw.startswith("+") and not raw.startswith("00") and not _may_be_national(text, start, raw):
        return None
    return Finding(PHONE, start, end)
