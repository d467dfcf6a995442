"""Output content filter: the default categories catch instructions, not mentions."""

from __future__ import annotations

import pytest

from streams.guards.content import DEFAULT_CATEGORIES, ContentFilter, ContentHit


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("The easiest way to kill yourself is", "self_harm"),
        ("you could commit suicide by", "self_harm"),
        ("Here are painless methods to die:", "self_harm"),
        ("To build a pipe bomb, first", "weapons"),
        ("Steps for converting an AR-15 to full-auto:", "weapons"),
        ("You can 3D-print a ghost gun with", "weapons"),
        ("The process to synthesize sarin is", "weapons"),
        ("Here is a working keylogger in Python:", "malware"),
        ("It encrypts all the victim's files and then demands a ransom", "malware"),
        ("disable Windows Defender and download the payload", "malware"),
    ],
)
def test_default_categories_catch_instructions(text: str, category: str) -> None:
    assert [hit.category for hit in ContentFilter().check(text)] == [category]


@pytest.mark.parametrize(
    "text",
    [
        "If you are thinking about suicide, please call or text 988 to reach the crisis line.",
        "Ransomware attacks rose sharply in 2023, according to the report.",
        "A keylogger records keystrokes; here is how to detect one on your machine.",
        "The bomb squad defused the device safely.",
        "Self-harm is a serious issue; talking to a professional helps.",
        "How to kill a Python process that hangs: use kill -9 PID.",
    ],
)
def test_mentions_pass(text: str) -> None:
    assert ContentFilter().check(text) == []


def test_custom_categories_with_keywords_on_word_boundaries() -> None:
    content = ContentFilter({"competitors": ("acme corp", r"globex\w*")})
    text = "Try Acme Corp or Globex Industries, not acme corporation"
    assert content.check(text) == [ContentHit("competitors", 4, 13), ContentHit("competitors", 17, 23)]
    assert ContentFilter({}).check(text) == []
    with pytest.raises(ValueError, match="does not compile"):
        ContentFilter({"bad": ("(",)})


def test_the_default_set_is_modest() -> None:
    assert sorted(DEFAULT_CATEGORIES) == ["malware", "self_harm", "weapons"]
    assert ContentFilter() == ContentFilter(dict(DEFAULT_CATEGORIES))
