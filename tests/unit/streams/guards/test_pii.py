"""find_pii: personal data by type, with the hard negatives that share its shape."""

from __future__ import annotations

import itertools

import pytest

from streams.guards.pii import find_pii


def found(text: str, types: frozenset[str] | None = None) -> list[tuple[str, str]]:
    return [(f.type, f.value(text)) for f in find_pii(text, types)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail
        ("write to maria.gonzalez@outlook.com.", [("EMAIL", "maria.gonzalez@outlook.com")]),
        ("cc first.last+billing@support.example.co.uk", [("EMAIL", "first.last+billing@support.example.co.uk")]),
        # phones: US, GB, DE, FR, IN national formats and any with a country code
        ("my phone is (415) 555-0132", [("PHONE", "(415) 555-0132")]),
        ("call 020 7946 0958 or +44 7911 123456", [("PHONE", "020 7946 0958"), ("PHONE", "+44 7911 123456")]),
        ("Büro 089 1234567, mobil +49 151 23456789", [("PHONE", "089 1234567"), ("PHONE", "+49 151 23456789")]),
        ("le 01 45 67 89 12", [("PHONE", "01 45 67 89 12")]),
        ("office +91 22 2778 2000", [("PHONE", "+91 22 2778 2000")]),
        ("the hotel (+33 1 42 68 53 00) is", [("PHONE", "+33 1 42 68 53 00")]),
        ("mobile 512.384.0148", [("PHONE", "512.384.0148")]),
        ("Call me: 4155550132", [("PHONE", "4155550132")]),
        (
            "tel 020 7946 0958 / 0161 496 0000 / +44 20 7183 8750",
            [("PHONE", "020 7946 0958"), ("PHONE", "0161 496 0000"), ("PHONE", "+44 20 7183 8750")],
        ),
        # cards
        ("Visa 4111 1111 1111 1111, exp 09/27", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("Amex 3782 822463 10005", [("CREDIT_CARD", "3782 822463 10005")]),
        ("card 4242-4242-4242-4242", [("CREDIT_CARD", "4242-4242-4242-4242")]),
        ("card 5200828282828210 cvv", [("CREDIT_CARD", "5200828282828210")]),
        ("4111 1111 1111 1111 123", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        # SSNs
        ("SSN: 536-22-4187", [("US_SSN", "536-22-4187")]),
        ("SSN 288 51 6034", [("US_SSN", "288 51 6034")]),
        ("her SSN is 524713390", [("US_SSN", "524713390")]),
        # IBANs
        ("to DE89 3704 0044 0532 0130 00 by Friday", [("IBAN", "DE89 3704 0044 0532 0130 00")]),
        ("IBAN: AT611904300234573201;", [("IBAN", "AT611904300234573201")]),
        ("account FR14 2004 1010 0505 0001 3M02 606 has", [("IBAN", "FR14 2004 1010 0505 0001 3M02 606")]),
        # IP addresses
        ("from 203.0.113.57 and 10.0.4.12:5432", [("IP_ADDRESS", "203.0.113.57"), ("IP_ADDRESS", "10.0.4.12")]),
        ("inet6 2001:db8:85a3::8a2e:370:7334/64", [("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")]),
        ("bind [::1]:8080 and fe80::1%eth0.", [("IP_ADDRESS", "::1"), ("IP_ADDRESS", "fe80::1%eth0")]),
        ("mapped ::ffff:192.0.2.1.", [("IP_ADDRESS", "::ffff:192.0.2.1")]),
    ],
)
def test_finds(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Is 4111 1111 1111 1112 a valid card number?",  # Luhn fails
        "My phone's IMEI is 35-209900-176148-1.",
        "IMEI 490154203237518 shows as blocked",
        "Which edition is ISBN 978-0-306-40615-7, or 9780306406157?",
        "Tracking number: 1Z999AA10123456784, USPS 9400 1000 0000 0000 0000 00",
        "Your order #A-20931-7781 shipped; ticket ID 4829-1177-3024, case CN-2024-008812",
        "Order number 4155550132 was refunded",
        "What bank does the ABA routing number 021000021 belong to?",
        "Kubernetes 1.28.4, Chrome 124.0.6367.118, build 2024.06.11.3, version 10.0.0.1, v1.2.3.4",
        "The office is at 51.507351, -0.127758 and 40.7128, -74.0060",
        "Convert 2024-03-15 and 15/03/2024; epoch 1718035200 at 12:45:30",
        "Is 000-12-3456 a valid SSN? And 666-45-1234, 987-65-4321, 123-00-4567?",
        "The routing number 123456789 is on the cheque",  # bare nine digits without an SSN word
        "The example IBAN DE89 3704 0044 0532 0130 01 fails validation",
        "Our German VAT ID is DE287465193.",
        "Calculate 4532 \u00d7 1488 and $1,234,567.89",
        "git clone git@github.com:acme/web.git; logo@2x.png; npm i react@18.2.0; @types/node",
        "MAC 00:1a:2b:3c:4d:5e, std::vector, Foo::bar, dead::beef, 256.1.1.1",
        "UUID 3f2b6c1e-8d4a-4f7b-9c2e-5a1d7e9b0c43 and SHA 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "postgres://user:changeme@db.example.com/app",  # a placeholder password, and not an e-mail
    ],
)
def test_hard_negatives(text: str) -> None:
    assert found(text) == []


def test_a_connection_string_holds_a_password_not_an_email() -> None:
    text = "postgresql://admin:S3cr3t-Kayak77@db.internal.acme.io:5432/app"
    assert found(text) == [("PASSWORD", "S3cr3t-Kayak77")]


def test_a_token_in_a_url_is_a_key_not_an_email() -> None:
    token = "ghp_" + "mYaUSRCsllZq3ZycZOkN8gaW18vjsgJ0Wu8F"
    assert found(f"https://{token}@github.com/acme/api.git") == [("API_KEY", token)]


def test_types_limits_the_detectors() -> None:
    text = "mail a.b@example.com or call (415) 555-0132"
    assert found(text, frozenset({"PHONE"})) == [("PHONE", "(415) 555-0132")]
    assert found(text, frozenset()) == []


def test_findings_are_sorted_and_disjoint() -> None:
    text = "SSN 536-22-4187, card 4111 1111 1111 1111, mail x@y.io, ip 10.0.0.1, tel +44 20 7183 8750"
    findings = find_pii(text)
    assert [f.type for f in findings] == ["US_SSN", "CREDIT_CARD", "EMAIL", "IP_ADDRESS", "PHONE"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no numbers here, only words", False),
        ("order 7", True),
        ("Grüße, keine Ziffern", False),  # not ASCII, no digit
        ("رقم ٤١١١", True),  # Arabic-Indic digits are \d as well
        ("", False),
    ],
)
def test_has_digit_agrees_with_the_regex_digit_class(text: str, expected: bool) -> None:
    from streams.guards.findings import has_digit

    assert has_digit(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111111111111111", [("CREDIT_CARD", "4111111111111111")]),  # at the very start of the text
        ("x4111111111111111", []),  # glued to a word: part of an identifier
        ("v.4111111111111111", []),
        ("+4111111111111111", []),  # a phone-like prefix
    ],
)
def test_a_card_must_not_follow_a_word_character(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, frozenset({"CREDIT_CARD"})) == expected
