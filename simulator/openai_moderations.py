"""OpenAI's moderations endpoint for the simulator: ``POST /v1/moderations``.

Shapes follow OpenAI's API reference (``moderations/create``): the request has ``input`` (a string, an
array of strings, or an array of ``{"type": "text", "text": ...}`` parts) and an optional ``model``;
the reply is ``{"id", "model", "results": [{"flagged", "categories", "category_scores"}]}``, one result
per input, every category present. The simulator's judgement is a keyword table (below): a text with a
category's word scores 0.9 in it and is flagged; otherwise every score is 0.0001. Deterministic, so
tests can say what will be flagged.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

__all__ = ["CATEGORIES", "InvalidModerationRequest", "moderation_dict"]

CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_KEYWORDS = {
    "violence": ("kill", "murder", "stab"),
    "harassment": ("worthless idiot", "moron"),
    "self-harm": ("hurt myself",),
    "illicit": ("make a bomb", "cook meth"),
}
DEFAULT_MODEL = "omni-moderation-latest"


class InvalidModerationRequest(ValueError):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def _inputs(body: Any) -> list[str]:
    if not isinstance(body, dict) or "input" not in body:
        raise InvalidModerationRequest("'input' is required.", "input")
    raw = body["input"]
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        texts = []
        for i, item in enumerate(raw):
            if isinstance(item, str):
                texts.append(item)
            elif isinstance(item, dict) and item.get("type") == "text" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            else:
                raise InvalidModerationRequest(f"'input[{i}]' must be a string or a text part.", f"input[{i}]")
        return texts
    raise InvalidModerationRequest("'input' must be a string or a non-empty array.", "input")


def _judge(text: str) -> dict[str, Any]:
    lowered = text.lower()
    hits = {c for c, words in _KEYWORDS.items() if any(re.search(rf"\b{re.escape(w)}\b", lowered) for w in words)}
    scores = {c: (0.9 if c in hits else 0.0001) for c in CATEGORIES}
    return {"flagged": bool(hits), "categories": {c: c in hits for c in CATEGORIES}, "category_scores": scores}


def moderation_dict(body: Any) -> dict[str, Any]:
    model = body.get("model") if isinstance(body, dict) else None
    if model is not None and not isinstance(model, str):
        raise InvalidModerationRequest("'model' must be a string.", "model")
    results = [_judge(text) for text in _inputs(body)]
    return {"id": f"modr-{uuid.uuid4().hex[:24]}", "model": model or DEFAULT_MODEL, "results": results}
