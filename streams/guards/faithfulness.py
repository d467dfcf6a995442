"""Faithfulness on RAG routes: is each sentence of an answer supported by the retrieved chunks?

A sentence is *supported* when

- its content words are mostly in one chunk (lexical support at or above ``lexical_threshold``), or
- it means what a passage of a chunk says: the cosine similarity of the two (the semantic cache's
  MiniLM embedder) reaches ``semantic_threshold``, with at least some words in common;

and, either way, every number it states appears in the chunks: a sentence can be worded like its
source and still change the figure, and a sentence embedding cannot tell 2 years from 5.

Only sentences without lexical support are embedded, each against the few passages that share the
most words with it, so an answer quoting its sources costs no embedding at all. The score is the
share of supported sentences (sentences of fewer than three content words and no number, like "Sure,
happy to help!", are not counted); the
route's ``min_score`` decides whether the answer is flagged or blocked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streams.cache.embedders import Embedder

__all__ = ["FaithfulnessChecker", "FaithfulnessResult", "content_words", "numbers_in", "split_sentences"]

MIN_WORDS = 3  # a sentence with fewer content words (and no number) is not counted

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n{2,}|\n(?=\s*[-*•]|\s*\d+[.)]\s)")
_WORD = re.compile("[a-z0-9][a-z0-9'\u2019-]*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")
_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "thirty": "30",
    "hundred": "100", "thousand": "1000",
}  # fmt: skip
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "which",
        "who",
        "whom",
        "whose",
        "what",
        "when",
        "where",
        "why",
        "how",
        "not",
        "no",
        "yes",
        "do",
        "does",
        "did",
        "done",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "have",
        "has",
        "had",
        "having",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "him",
        "her",
        "us",
        "them",
        "my",
        "your",
        "his",
        "our",
        "their",
        "also",
        "just",
        "only",
        "very",
        "more",
        "most",
        "such",
        "than",
        "too",
        "into",
        "over",
        "under",
        "about",
        "after",
        "before",
        "any",
        "all",
        "each",
        "both",
        "few",
        "other",
        "some",
        "own",
        "same",
        "s",
        "t",
        "sure",
        "okay",
        "ok",
        "well",
        "please",
        "thanks",
        "thank",
        "yes",
        "according",
    ]
)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s and s.strip()]


def content_words(text: str) -> set[str]:
    return {w.strip("'\u2019-") for w in _WORD.findall(text.lower()) if (w not in _STOP and len(w) > 1) or w.isdigit()}


def numbers_in(text: str) -> set[str]:
    """The numbers a text states, as digits ("two" and "2" are the same; "1,000" is "1000")."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_NUMBER_WORDS[w] for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS}
    return found


@dataclass(frozen=True, slots=True)
class FaithfulnessResult:
    score: float  # supported sentences / counted sentences; 1.0 when nothing was counted
    counted: int
    unsupported: tuple[int, ...]  # indexes into split_sentences(answer)
    embedded: int  # texts embedded for this check
    latency_us: int


class FaithfulnessChecker:
    def __init__(
        self,
        embedder: Embedder | None,
        lexical_threshold: float = 0.6,
        semantic_threshold: float = 0.6,
        min_overlap: float = 0.2,
        passages_per_sentence: int = 3,
    ) -> None:
        self.embedder = embedder
        self.lexical_threshold = lexical_threshold
        self.semantic_threshold = semantic_threshold
        self.min_overlap = min_overlap
        self.passages_per_sentence = passages_per_sentence

    def check(self, answer: str, chunks: Sequence[str]) -> FaithfulnessResult:
        started = time.perf_counter()
        sentences = split_sentences(answer)
        passages = [p for chunk in chunks for p in _passages(chunk)]
        passage_words = [content_words(p) for p in passages]
        known_numbers = set().union(*(numbers_in(c) for c in chunks)) if chunks else set()
        vectors: dict[int, np.ndarray] = {}  # passage index -> vector, embedded at most once
        embedded = 0
        counted, unsupported = 0, []
        for index, sentence in enumerate(sentences):
            words = content_words(sentence)
            if len(words) < MIN_WORDS and not numbers_in(sentence):
                continue  # "Sure, happy to help." claims nothing
            counted += 1
            if not numbers_in(sentence) <= known_numbers:
                unsupported.append(index)
                continue
            overlaps = sorted(((len(words & pw) / len(words), i) for i, pw in enumerate(passage_words)), reverse=True)
            best_overlap = overlaps[0][0] if overlaps else 0.0
            if best_overlap >= self.lexical_threshold:
                continue
            if self.embedder is None or best_overlap < self.min_overlap:
                unsupported.append(index)
                continue
            nearest = [i for overlap, i in overlaps[: self.passages_per_sentence] if overlap >= self.min_overlap]
            missing = [i for i in nearest if i not in vectors]
            texts = [sentence, *(passages[i] for i in missing)]
            embeddings = np.asarray(self.embedder.embed(texts), dtype=np.float32)
            embedded += len(texts)
            vectors.update(zip(missing, embeddings[1:], strict=True))
            similarity = max(float(embeddings[0] @ vectors[i]) for i in nearest)
            if similarity < self.semantic_threshold:
                unsupported.append(index)
        score = 1.0 if counted == 0 else (counted - len(unsupported)) / counted
        latency_us = int((time.perf_counter() - started) * 1e6)
        return FaithfulnessResult(score, counted, tuple(unsupported), embedded, latency_us)


def _passages(chunk: str, size: int = 2) -> list[str]:
    """A chunk as overlapping windows of ``size`` sentences (the unit a sentence is compared with)."""
    sentences = split_sentences(chunk)
    if len(sentences) <= size:
        return [" ".join(sentences)] if sentences else []
    return [" ".join(sentences[i : i + size]) for i in range(len(sentences) - size + 1)]
