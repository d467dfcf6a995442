"""Redaction with typed placeholders, and the round trip back."""

from __future__ import annotations

import pytest

from streams.guards.findings import Finding
from streams.guards.pii import find_pii
from streams.guards.redact import Redaction, redact, restore


def test_typed_numbered_placeholders_and_one_per_value() -> None:
    text = "Mail a@x.io or b@x.io, call (415) 555-0132; again: a@x.io"
    redaction = redact(text, find_pii(text))
    assert redaction == Redaction(
        "Mail [EMAIL_1] or [EMAIL_2], call [PHONE_1]; again: [EMAIL_1]",
        {"[EMAIL_1]": "a@x.io", "[EMAIL_2]": "b@x.io", "[PHONE_1]": "(415) 555-0132"},
    )


@pytest.mark.parametrize(
    "text",
    [
        "nothing to hide here",
        "SSN 536-22-4187, card 4111 1111 1111 1111 and IBAN DE89 3704 0044 0532 0130 00.",
        "postgres://admin:S3cr3t-Kayak77@db.local/app and DB_PASSWORD=Wint3r-Harbor-88",
        "A literal [EMAIL_1] in the text stays put next to a@b.io.",
        "ünïcödé ✓ +44 20 7183 8750 at the end",
    ],
)
def test_restore_undoes_redact(text: str) -> None:
    redaction = redact(text, find_pii(text))
    assert restore(redaction.text, redaction.placeholders) == text
    assert all(value not in redaction.text for value in redaction.placeholders.values())


def test_placeholders_already_in_the_text_are_skipped() -> None:
    text = "[EMAIL_1] is a template; the real one is a@b.io"
    redaction = redact(text, find_pii(text))
    assert redaction.placeholders == {"[EMAIL_2]": "a@b.io"}


def test_restore_a_reply_and_overlapping_findings() -> None:
    assert (
        restore("I wrote to [EMAIL_1] twice: [EMAIL_1].", {"[EMAIL_1]": "a@b.io"}) == "I wrote to a@b.io twice: a@b.io."
    )
    assert restore("[X_10] and [X_1]", {"[X_1]": "one", "[X_10]": "ten"}) == "ten and one"
    assert restore("as is", {}) == "as is"
    clash = redact("abcdef", [Finding("PHONE", 0, 4), Finding("API_KEY", 2, 6)])
    assert clash.text == "ab[API_KEY_1]"
