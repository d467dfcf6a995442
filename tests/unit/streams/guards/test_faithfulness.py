"""Faithfulness: each sentence of an answer against the retrieved chunks (the bundled MiniLM for the
sentences that do not quote their source)."""

from __future__ import annotations

import pytest

from streams.cache.embedders import MiniLMEmbedder
from streams.guards.faithfulness import FaithfulnessChecker, content_words, numbers_in, split_sentences

CHUNKS = [
    "The Acme X200 warranty covers manufacturing defects for 24 months from the date of purchase. "
    "Batteries are covered for 12 months.",
    "Returns are accepted within 30 days if the product is unused and in its original packaging. "
    "Refunds are issued to the original payment method within 5 business days.",
]


@pytest.fixture(scope="module")
def checker() -> FaithfulnessChecker:
    return FaithfulnessChecker(MiniLMEmbedder())


@pytest.mark.parametrize(
    ("answer", "score", "unsupported"),
    [
        ("The warranty covers manufacturing defects for 24 months. Batteries are covered for 12 months.", 1.0, ()),
        (
            "Manufacturing defects on the X200 are covered for 24 months after purchase. "
            "An unused product in its original packaging can be returned within 30 days.",
            1.0,
            (),
        ),
        ("Sure, happy to help! Refunds go to the original payment method within 5 business days.", 1.0, ()),
        ("The warranty covers manufacturing defects for 36 months from the date of purchase.", 0.0, (0,)),
        ("Batteries are covered for two years.", 0.0, (0,)),  # a number word the chunks do not state
        ("The X200 is waterproof to a depth of fifty meters. It ships with a free carrying case.", 0.0, (0, 1)),
        (
            "Returns are accepted within 30 days if the product is unused. It includes lifetime phone support.",
            0.5,
            (1,),
        ),
    ],
)
def test_sentences_are_supported_by_the_chunks_or_not(
    checker: FaithfulnessChecker, answer: str, score: float, unsupported: tuple[int, ...]
) -> None:
    result = checker.check(answer, CHUNKS)
    assert (result.score, result.unsupported) == (score, unsupported)


def test_a_quoting_answer_costs_no_embedding(checker: FaithfulnessChecker) -> None:
    assert checker.check(CHUNKS[0], CHUNKS).embedded == 0


def test_without_an_embedder_only_lexical_support_counts() -> None:
    lexical = FaithfulnessChecker(None)
    assert lexical.check("Batteries are covered for 12 months.", CHUNKS).score == 1.0
    assert lexical.check("It ships with a free carrying case and a charger.", CHUNKS).score == 0.0
    assert lexical.check("Hello there.", []).score == 1.0  # nothing claimed, nothing to check


def test_text_helpers() -> None:
    assert split_sentences("One two three. Four five six!\n- a bullet\n\nNext.") == [
        "One two three.",
        "Four five six!",
        "- a bullet",
        "Next.",
    ]
    assert numbers_in("It costs 1,000 dollars for two people, 3.5 hours") == {"1000", "2", "3.5"}
    assert content_words("The warranty is for the X200") == {"warranty", "x200"}


def test_a_paraphrase_with_few_shared_words_is_supported_by_meaning(checker: FaithfulnessChecker) -> None:
    for answer in (
        "If the X200 breaks because of a manufacturing fault, the warranty applies for 24 months.",
        "Unopened items may be sent back within 30 days.",
    ):
        result = checker.check(answer, CHUNKS)
        assert result.embedded > 0 and result.score == 1.0, answer
