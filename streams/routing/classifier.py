"""The complexity classifier: logistic regression over ``features.complexity_features``.

The weights, bias, feature names and decision threshold live in ``complexity_model.json`` next to this
module, written by ``python -m streams.routing.train_complexity``. A score is the model's probability
that a request is *complex* (needs the large model); ``is_complex`` compares it with the shipped
threshold, which was chosen so that almost every complex training prompt goes to the large model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.events import ChatMessage, ChatRequest
from streams.routing.features import FEATURE_NAMES, complexity_features

__all__ = [
    "DEFAULT_MODEL_PATH",
    "ComplexityDecision",
    "ComplexityModel",
    "ModelFileError",
    "message_text",
    "request_messages",
    "sigmoid",
]

DEFAULT_MODEL_PATH = Path(__file__).with_name("complexity_model.json")
MODEL_FORMAT = 1


class ModelFileError(ValueError):
    """The model file is unreadable, malformed, or was trained on other features than this code computes."""


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def message_text(message: ChatMessage) -> str:
    """A message's text: its ``content``, or the text parts of its ``parts_json`` joined by blank lines."""
    if message.content is not None:
        return message.content
    if message.parts_json is None:
        return ""
    try:
        parts = json.loads(message.parts_json)
    except ValueError:
        return ""
    if not isinstance(parts, list):
        return ""
    texts = [
        p["text"] for p in parts if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
    ]
    return "\n\n".join(texts)


def request_messages(request: ChatRequest) -> list[tuple[str, str]]:
    """The (role, text) pairs the features read."""
    return [(m.role, message_text(m)) for m in request.messages]


@dataclass(frozen=True)
class ComplexityDecision:
    """A request's score and whether it goes to the large model."""

    score: float
    complex: bool


@dataclass(frozen=True)
class ComplexityModel:
    feature_names: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.feature_names):
            raise ModelFileError(f"{len(self.weights)} weights for {len(self.feature_names)} features")
        if not 0.0 <= self.threshold <= 1.0:
            raise ModelFileError(f"threshold {self.threshold} is outside [0, 1]")

    @classmethod
    def load(cls, path: Path | str = DEFAULT_MODEL_PATH) -> ComplexityModel:
        """The model in ``path`` (the shipped one by default); refused unless its features are this code's."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read the complexity model {path}: {exc}") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> ComplexityModel:
        try:
            if data["format"] != MODEL_FORMAT:
                raise ModelFileError(f"{source}: model format {data['format']!r}, this code reads {MODEL_FORMAT}")
            weights: Mapping[str, float] = data["weights"]
            names = tuple(weights)
            model = cls(
                feature_names=names,
                weights=tuple(float(weights[n]) for n in names),
                bias=float(data["bias"]),
                threshold=float(data["threshold"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{source}: malformed complexity model ({exc!r})") from None
        if names != FEATURE_NAMES:
            missing = sorted(set(FEATURE_NAMES) - set(names))
            extra = sorted(set(names) - set(FEATURE_NAMES))
            raise ModelFileError(
                f"{source}: trained on other features (missing {missing}, extra {extra}, or another order); "
                "retrain with python -m streams.routing.train_complexity"
            )
        return model

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "threshold": self.threshold,
            "bias": self.bias,
            "weights": dict(zip(self.feature_names, self.weights, strict=True)),
        }

    def score_vector(self, vector: list[float] | tuple[float, ...]) -> float:
        """The probability of *complex* for a feature vector in ``feature_names`` order."""
        return sigmoid(self.bias + math.fsum(w * x for w, x in zip(self.weights, vector, strict=True)))

    def score_features(self, features: Mapping[str, float]) -> float:
        return self.score_vector([features[name] for name in self.feature_names])

    def score(self, messages: list[tuple[str, str]], tools: bool = False, max_tokens: int | None = None) -> float:
        """The probability, in [0, 1], that the request needs the large model; ``messages`` are (role, text)."""
        return self.score_features(complexity_features(messages, tools=tools, max_tokens=max_tokens))

    def is_complex(self, messages: list[tuple[str, str]], tools: bool = False, max_tokens: int | None = None) -> bool:
        return self.score(messages, tools=tools, max_tokens=max_tokens) >= self.threshold

    def decide(
        self, messages: list[tuple[str, str]], tools: bool = False, max_tokens: int | None = None
    ) -> ComplexityDecision:
        """The score and the routing decision in one pass (what the route stage records)."""
        score = self.score(messages, tools=tools, max_tokens=max_tokens)
        return ComplexityDecision(score=score, complex=score >= self.threshold)

    def decide_request(self, request: ChatRequest) -> ComplexityDecision:
        """``decide`` for a unified chat request: its messages, whether it offers tools, its ``max_tokens``."""
        return self.decide(
            request_messages(request), tools=request.tools_json is not None, max_tokens=request.max_tokens
        )
