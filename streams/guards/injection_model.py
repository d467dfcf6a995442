"""A small linear model of prompt injections: logistic regression over words and word pairs.

The heuristics in :mod:`streams.guards.injection_rules` are precise but literal: an attack phrased in
words no rule expects scores nothing. The model generalises a little further, weighing vocabulary
(``instructions``, ``your prompt``, ``no restrictions``, ``the user``) learnt from the labelled
examples in ``injection_train.jsonl``. Its weights live in ``injection_model.json``, written by
:mod:`streams.guards.train_injection` (run it again after changing the data; a test checks that the
shipped file is what the script produces). Features are binary: each distinct lower-cased word and
each pair of adjacent words.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODEL_PATH", "LinearModel", "default_model", "features"]

MODEL_PATH = Path(__file__).with_name("injection_model.json")

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


# Function words say more about who wrote the training examples than about injections: alone they get no
# weight (they still count inside word pairs: "your rules", "you were").
_STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "if", "then", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "as", "is", "are", "was", "were", "be", "been", "being", "it", "its", "this", "that", "these", "those", "i",
    "me", "my", "we", "our", "us", "he", "she", "they", "them", "his", "her", "their", "do", "does", "did", "so",
    "such", "than", "too", "very", "can", "could", "would", "should", "will", "just", "also", "please"
})  # fmt: skip


def features(text: str) -> frozenset[str]:
    """The words of ``text`` (lower-cased; function words left out) and its adjacent word pairs."""
    words = _WORD.findall(text.lower())
    return frozenset(words).difference(_STOPWORDS).union(map(" ".join, itertools.pairwise(words)))


@dataclass(frozen=True, slots=True)
class LinearModel:
    """``P(injection) = sigmoid(bias + sum of the weights of the text's features)``."""

    bias: float
    weights: dict[str, float]

    def probability(self, text: str) -> float:
        weights = self.weights
        z = self.bias + sum(map(weights.__getitem__, weights.keys() & features(text)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> str:
        """The model as the stable, sorted JSON that is shipped."""
        return json.dumps({"bias": self.bias, "weights": dict(sorted(self.weights.items()))}, indent=0) + "\n"

    @classmethod
    def from_json(cls, data: str) -> LinearModel:
        raw = json.loads(data)
        return cls(float(raw["bias"]), {str(k): float(v) for k, v in raw["weights"].items()})


@functools.cache
def default_model() -> LinearModel:
    """The shipped model, read once."""
    return LinearModel.from_json(MODEL_PATH.read_text(encoding="utf-8"))
