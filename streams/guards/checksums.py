"""Check digits and number plans that tell a real card, IBAN or SSN from a number of the same shape.

Pure functions over digit strings, used by the detectors in :mod:`streams.guards.pii`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "IBAN_LENGTHS",
    "card_brand",
    "iban_valid",
    "luhn_valid",
    "ssn_valid",
]


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class _CardRange:
    brand: str
    low: int
    high: int
    lengths: frozenset[int]

    def matches(self, digits: str) -> bool:
        width = len(str(self.low))
        return len(digits) in self.lengths and self.low <= int(digits[:width]) <= self.high


_ANY = frozenset(range(16, 20))
# Issuer identification ranges (ISO/IEC 7812 as the networks publish them). A number outside them is
# not a payment card however well it passes Luhn: IMEIs, for one, are 15 Luhn-valid digits.
_CARD_RANGES = (
    _CardRange("visa", 4, 4, frozenset({13, 16, 19})),
    _CardRange("mastercard", 51, 55, frozenset({16})),
    _CardRange("mastercard", 2221, 2720, frozenset({16})),
    _CardRange("amex", 34, 34, frozenset({15})),
    _CardRange("amex", 37, 37, frozenset({15})),
    _CardRange("diners", 300, 305, frozenset({14, 16, 17, 18, 19})),
    _CardRange("diners", 36, 36, frozenset({14, 16, 17, 18, 19})),
    _CardRange("diners", 38, 39, frozenset({14, 16, 17, 18, 19})),
    _CardRange("discover", 6011, 6011, _ANY),
    _CardRange("discover", 644, 649, _ANY),
    _CardRange("discover", 65, 65, _ANY),
    _CardRange("jcb", 3528, 3589, _ANY),
    _CardRange("unionpay", 62, 62, _ANY),
    _CardRange("mir", 2200, 2204, _ANY),
    _CardRange("maestro", 50, 50, frozenset(range(13, 20))),
    _CardRange("maestro", 56, 69, frozenset(range(13, 20))),
)


def card_brand(digits: str) -> str | None:
    """The card network of a Luhn-valid number in a known issuer range and length, else None."""
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return None
    return next((r.brand for r in _CARD_RANGES if r.matches(digits)), None)


IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
"""Length of the IBAN of each country in the SWIFT IBAN registry, country code and check digits included."""


def iban_valid(iban: str) -> bool:
    """Whether a compact upper-case IBAN has its country's length and passes the ISO 7064 mod-97 check."""
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit() or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """Whether an ``AAA-GG-SSSS`` number could be issued: never area 000, 666 or 9xx, group 00, serial 0000."""
    return area != "000" and area != "666" and area[0] != "9" and group != "00" and serial != "0000"
