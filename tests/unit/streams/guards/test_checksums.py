"""Check digits and number plans: Luhn and issuer ranges, IBAN mod-97 and lengths, SSN ranges."""

from __future__ import annotations

import pytest

from streams.guards.checksums import card_brand, iban_valid, luhn_valid, ssn_valid


@pytest.mark.parametrize(
    ("digits", "brand"),
    [
        ("4111111111111111", "visa"),
        ("4222222222222", "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("30569309025904", "diners"),
        ("6011111111111117", "discover"),
        ("3530111333300000", "jcb"),
        ("6200000000000005", "unionpay"),
        ("4111111111111112", None),  # fails Luhn
        ("490154203237518", None),  # an IMEI: Luhn-valid, 15 digits, no issuer uses that length there
        ("9400100000000000", None),  # Luhn-valid, no issuer starts with 9
        ("411111111111", None),  # too short
    ],
)
def test_card_brand(digits: str, brand: str | None) -> None:
    assert card_brand(digits) == brand


def test_luhn() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("DE89370400440532013000", True),
        ("GB82WEST12345698765432", True),
        ("NO9386011117947", True),
        ("FR1420041010050500013M02606", True),
        ("DE89370400440532013001", False),  # check digits
        ("DE8937040044053201300", False),  # length
        ("XX89370400440532013000", False),  # no such country
        ("DE8937040044053201300!", False),
    ],
)
def test_iban_valid(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid


@pytest.mark.parametrize(
    ("ssn", "valid"),
    [
        ("536-22-4187", True),
        ("078-05-1120", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("900-12-3456", False),
        ("999-12-3456", False),
        ("123-00-4567", False),
        ("123-45-0000", False),
    ],
)
def test_ssn_valid(ssn: str, valid: bool) -> None:
    assert ssn_valid(*ssn.split("-")) is valid
