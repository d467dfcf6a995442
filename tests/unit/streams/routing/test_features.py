"""The complexity features: how a request is split into task and payload, and what each feature sees."""

from __future__ import annotations

import math

import pytest

from streams.routing.features import FEATURE_NAMES, LEXICONS, complexity_features, split_task

EMAIL = (
    "Hi Sam,\n\nThe printer on the second floor is fixed and the new toner arrived this morning. Please "
    "let the team know they can use it again, and remind them to log out of the print queue when done.\n\n"
    "Thanks,\nLeila"
)
CODE = "def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total / len(xs)"


def user(text: str) -> list[tuple[str, str]]:
    return [("user", text)]


@pytest.mark.parametrize(
    ("text", "task", "payload_starts"),
    [
        ("What is the capital of Peru?", "What is the capital of Peru?", ""),
        ("", "", ""),
        ("Summarize this email:\n\n" + EMAIL, "Summarize this email:", "Hi Sam,"),
        # a colon and a line break inside the first paragraph start the payload
        ("Convert to CSV:\na | 1\nb | 2", "Convert to CSV", "a | 1"),
        # a code fence starts the payload
        ("Why does this fail?\n```python\nx = [1]\nx[3]\n```", "Why does this fail?", "python"),
        # a short closing paragraph that reports trouble joins the task
        (
            "Find the bug:\n\n" + CODE + "\n\nIt crashes on an empty list.",
            "Find the bug:\nIt crashes on an empty list.",
            "def mean",
        ),
        # the first paragraph is material, not an instruction: the closing question is the task
        (EMAIL.split("\n\n")[1] + "\n\nWhat floor is the printer on?", "What floor is the printer on?", "The printer"),
        # a closing paragraph that is part of the payload (a sign-off) stays there
        ("Fix the typos in this email:\n\n" + EMAIL, "Fix the typos in this email:", "Hi Sam,"),
        # quoted passages leave the task
        (
            "Is this review positive or negative? 'The strap broke on the first ride, terrible.'",
            "Is this review positive or negative? '…'",
            "'The strap broke",
        ),
        ("Translate 'where is the station?' into Greek.", "Translate '…' into Greek.", "'where is"),
        # an apostrophe is not a quote
        (
            "Don't summarize, just list what's in it: eggs, milk",
            "Don't summarize, just list what's in it: eggs, milk",
            "",
        ),
    ],
)
def test_split_task(text: str, task: str, payload_starts: str) -> None:
    got_task, got_payload = split_task(text)
    assert got_task == task
    assert got_payload.startswith(payload_starts)
    assert bool(got_payload) == bool(payload_starts)


@pytest.mark.parametrize(
    ("messages", "kwargs", "positive", "zero"),
    [
        (user("Prove that there are infinitely many primes."), {}, ["hard_ask", "reasoning", "math"], ["simple_ask"]),
        (user("Derive the formula step by step."), {}, ["hard_ask", "reasoning", "short_hard_ask"], ["code_lines"]),
        (user("What's the capital of Peru?"), {}, ["simple_ask", "opens_simple"], ["hard_ask", "complex_ask"]),
        (user("Hello there!"), {}, ["greeting"], ["hard_ask", "payload_share"]),
        (user("Summarize this email:\n\n" + EMAIL), {}, ["simple_ask", "payload_share"], ["hard_ask", "trouble"]),
        (user("Find the bug:\n\n" + CODE), {}, ["hard_ask", "code_lines", "code_tokens", "code_hard_ask"], []),
        (user("List the function names:\n\n" + CODE), {}, ["simple_ask", "code_simple_ask"], ["code_hard_ask"]),
        # words inside a quoted review are not the task's words
        (user("Is this a complaint? 'The app crashes and the login is broken.'"), {}, [], ["trouble"]),
        (user("Why does my query time out? It went from 2 s to 40 s."), {}, ["trouble", "hard_ask", "numbers"], []),
        (user("Write a Python function that merges intervals."), {}, ["write_code", "tech_terms"], []),
        (user("Write a 1,500-word essay on tariffs."), {}, ["long_output"], ["brief_output"]),
        (user("Is it spam? Answer yes or no."), {}, ["brief_output", "simple_ask"], ["long_output"]),
        (
            user("Plan a 3-day itinerary that must include a museum and at most 2 hours of travel a day."),
            {},
            ["plan_request", "constraints"],
            [],
        ),
        (user("Requirements:\n- fast\n- cheap\n- safe"), {}, ["list_items", "constraints"], []),
        (
            user("A train leaves at 9:00 at 80 km/h; another at 10:00 at 100 km/h, 300 km away. When do they meet?"),
            {},
            ["word_problem", "numbers", "math"],
            [],
        ),
        (user("Fix the typos: 'teh cat'"), {}, ["edit_request"], ["hard_ask"]),
        (user("What's the weather in Oslo?"), {"tools": True}, ["tools"], ["max_tokens_small", "max_tokens_large"]),
        (user("Name a colour."), {"max_tokens": 16}, ["max_tokens_small"], ["max_tokens_large", "tools"]),
        (user("Write a design doc."), {"max_tokens": 8000}, ["max_tokens_large"], ["max_tokens_small"]),
        (
            [("system", "Be terse."), ("user", "Prove it."), ("assistant", "Here is a proof..."), ("user", "Why?")],
            {},
            ["prior_turns", "complex_ask"],
            [],
        ),
        (user(""), {}, [], [n for n in FEATURE_NAMES if n not in ("log_chars",)]),
    ],
)
def test_features_seen(
    messages: list[tuple[str, str]], kwargs: dict[str, object], positive: list[str], zero: list[str]
) -> None:
    features = complexity_features(messages, **kwargs)  # type: ignore[arg-type]
    for name in positive:
        assert features[name] > 0, name
    for name in zero:
        assert features[name] == 0, name


@pytest.mark.parametrize(
    "messages",
    [
        user("Hi"),
        user("x" * 50_000),
        user(("Prove it. " * 400) + "\n\n" + CODE * 50),
        user("Why?\n\n" + "{};=>()" * 2000),
        [],
        [("assistant", "How can I help?")],
    ],
)
def test_every_feature_is_a_bounded_float_in_order(messages: list[tuple[str, str]]) -> None:
    features = complexity_features(messages)
    assert tuple(features) == FEATURE_NAMES
    for name, value in features.items():
        assert isinstance(value, float), name
        assert math.isfinite(value) and 0.0 <= value <= 1.0, (name, value)


def test_the_last_user_message_is_the_task() -> None:
    earlier = [("user", "Prove that sqrt(2) is irrational."), ("assistant", "Suppose sqrt(2) = p/q ...")]
    features = complexity_features([*earlier, ("user", "Thanks!")])
    assert features["greeting"] == 1.0
    assert features["hard_ask"] == 0.0
    assert features["prior_turns"] > 0


def test_lexicon_names_are_features() -> None:
    assert set(LEXICONS) <= set(FEATURE_NAMES)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)


def test_a_long_request_is_read_as_code_with_a_hard_ask() -> None:
    """Its cost is measured by ``turnout eval route`` (decision_us), never asserted here."""
    text = "Review this code for bugs and explain each one:\n\n" + CODE * 20 + "\n\nIt is slow on large inputs."
    features = complexity_features(user(text))
    assert features["code_lines"] > 0 and features["code_hard_ask"] > 0
    assert features["payload_share"] > 0.9
    assert features == complexity_features(user(text))
