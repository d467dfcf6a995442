"""Banned config patterns: regexes as written, keywords case-insensitive on word boundaries."""

from __future__ import annotations

import pytest

from streams.guards.banned import BannedPatterns


def spans(patterns: BannedPatterns, text: str) -> list[str]:
    return [f.value(text) for f in patterns.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Project Falcon ships in May", ["Project Falcon"]),
        ("PROJECT   falcon!", ["PROJECT   falcon"]),
        ("falconry is a hobby", []),
        ("the c++ build and the ban list", ["c++", "ban"]),
        ("bandage", []),
        ("ticket ZX-1234 and zx-9", ["ZX-1234"]),
    ],
)
def test_find(text: str, expected: list[str]) -> None:
    patterns = BannedPatterns(regexes=(r"ZX-\d{3,}",), keywords=("project falcon", "c++", "ban"))
    assert spans(patterns, text) == expected
    assert all(f.type == "BANNED" for f in patterns.find(text))


def test_overlaps_keep_the_longer_match_and_empty_matches_are_ignored() -> None:
    patterns = BannedPatterns(regexes=(r"secret\w*", r"x*"), keywords=("secret",))
    assert spans(patterns, "top secrets") == ["secrets"]


def test_a_bad_regex_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="does not compile"):
        BannedPatterns(regexes=("(unclosed",))


def test_empty_patterns_find_nothing_and_compare_by_config() -> None:
    assert BannedPatterns().find("anything") == []
    assert BannedPatterns(keywords=("a",)) == BannedPatterns(keywords=("a",))
    assert hash(BannedPatterns(keywords=("a",))) == hash(BannedPatterns(keywords=("a",)))
