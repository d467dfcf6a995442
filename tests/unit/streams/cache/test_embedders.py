"""The bundled MiniLM: BERT's tokenizer ids, the model card's similarities, unit vectors, the window."""

from __future__ import annotations

import numpy as np
import pytest

from streams.cache.embedders import Embedder, MiniLMEmbedder


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("What is 17 \u00d7 23?", [101, 2054, 2003, 2459, 1095, 2603, 1029, 102]),
        ("Café naïve résumé", [101, 7668, 15743, 13746, 102]),
        ("Don't convert USD→EUR!", [101, 2123, 1005, 1056, 10463, 13751, 30113, 11236, 999, 102]),
        ("unaffable 日本 x", [101, 14477, 20961, 3468, 1864, 1876, 1060, 102]),
        ("iPhone 15 Pro", [101, 18059, 2321, 4013, 102]),
    ],
)
def test_the_tokenizer_gives_berts_ids(minilm: MiniLMEmbedder, text: str, ids: list[int]) -> None:
    """Ids as the reference ``tokenizers`` implementation gives them for this vocabulary."""
    assert minilm.tokenizer.encode(text) == ids


def test_similarities_match_the_model_card(minilm: MiniLMEmbedder) -> None:
    """sentence-transformers/all-MiniLM-L6-v2's published example: 0.695, 0.943, 0.257."""
    vectors = np.asarray(
        minilm.embed(
            ["That is a happy person", "That is a happy dog", "That is a very happy person", "Today is a sunny day"]
        )
    )
    assert vectors[1:] @ vectors[0] == pytest.approx([0.695, 0.943, 0.257], abs=0.002)


def test_vectors_are_unit_length_and_in_order(minilm: MiniLMEmbedder) -> None:
    assert isinstance(minilm, Embedder)
    vectors = minilm.embed(["first", "second", "first"])
    assert len(vectors) == 3
    assert all(len(v) == minilm.dim == 384 for v in vectors)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)
    assert vectors[0] == pytest.approx(vectors[2])
    assert minilm.embed([]) == []


def test_fits_tells_whether_the_text_would_be_cut(minilm: MiniLMEmbedder) -> None:
    assert minilm.fits("short question")
    assert not minilm.fits("word " * 300)
    assert len(minilm.tokenizer.encode("word " * 300)) == 256
