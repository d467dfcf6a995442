"""OpenAI embeddings for the simulator: request validation, deterministic vectors, the response.

Shapes follow OpenAI's API reference (``embeddings/create`` and the embedding object): the request
has ``model``, ``input`` (a string, an array of strings, an array of token ids or an array of
token-id arrays; not empty, at most 2048 items), ``encoding_format`` (``float``, the default, or
``base64``: the little-endian float32 bytes, base64-encoded, as the ``openai`` SDK decodes them),
``dimensions`` and ``user``; the reply is ``{"object": "list", "data": [{"object": "embedding",
"index", "embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}``.

- Vectors depend on the input alone: SHA-256 of ``"<block>:<text>"`` in counter mode gives values in
  [-1, 1]; the first ``dimensions`` (default :data:`DEFAULT_DIMENSIONS`) are kept and scaled to unit
  length, rounded to float32. The same text always gives the same vector, and a smaller
  ``dimensions`` gives the re-normalized prefix of a larger one (as OpenAI shortens its
  ``text-embedding-3`` vectors). Token-id inputs are hashed as their ids joined by spaces.
- ``prompt_tokens`` counts each text input as the chat endpoint counts a text, ``ceil(len / 4)``
  (at least 1), without the chat endpoint's per-message overhead; a token-id input counts its ids.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from dataclasses import dataclass
from typing import Any

import orjson

DEFAULT_DIMENSIONS = 8
MAX_DIMENSIONS = 3072
MAX_INPUTS = 2048
_BLOCK_VALUES = 8  # float values per SHA-256 digest (eight 32-bit words)


class InvalidEmbeddingsRequest(ValueError):
    """A request OpenAI would refuse with 400 ``invalid_request_error``; ``param`` names the field."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class EmbeddingInput:
    text: str
    tokens: int


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    model: str
    inputs: tuple[EmbeddingInput, ...]
    dimensions: int
    encoding_format: str


def _token_ids(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value)


def _inputs(raw: Any) -> tuple[EmbeddingInput, ...]:
    invalid = InvalidEmbeddingsRequest(
        "'input' must be a non-empty string, an array of non-empty strings, an array of token ids "
        f"or an array of token-id arrays, with at most {MAX_INPUTS} items.",
        "input",
    )
    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif isinstance(raw, list) and 0 < len(raw) <= MAX_INPUTS:
        items = [raw] if _token_ids(raw) else raw
    else:
        raise invalid
    found = []
    for item in items:
        if isinstance(item, str) and item:
            found.append(EmbeddingInput(item, text_tokens(item)))
        elif isinstance(item, list) and _token_ids(item):
            found.append(EmbeddingInput(" ".join(str(t) for t in item), len(item)))
        else:
            raise invalid
    return tuple(found)


def _dimensions(raw: Any) -> int:
    if raw is None:
        return DEFAULT_DIMENSIONS
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_DIMENSIONS:
        raise InvalidEmbeddingsRequest(
            f"Invalid 'dimensions': expected an integer between 1 and {MAX_DIMENSIONS}.", "dimensions", "invalid_value"
        )
    return raw


def parse_embeddings_request(raw: bytes) -> EmbeddingsCall:
    """Validate an embeddings request body; raise InvalidEmbeddingsRequest like OpenAI's 400s."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEmbeddingsRequest(f"We could not parse the JSON body of your request. ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidEmbeddingsRequest("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidEmbeddingsRequest("'model' is a required property and must be a non-empty string.", "model")
    if "input" not in body:
        raise InvalidEmbeddingsRequest("'input' is a required property.", "input")
    encoding = body.get("encoding_format")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise InvalidEmbeddingsRequest(
            "Invalid 'encoding_format': expected 'float' or 'base64'.", "encoding_format", "invalid_value"
        )
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidEmbeddingsRequest("Invalid 'user': expected a string.", "user")
    return EmbeddingsCall(model, _inputs(body.get("input")), _dimensions(body.get("dimensions")), encoding)


def text_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def embedding_vector(text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The unit-length float32 vector of ``text`` (deterministic; prefixes agree across dimensions)."""
    values: list[float] = []
    for block in range(math.ceil(dimensions / _BLOCK_VALUES)):
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        values.extend(word / 2**31 - 1.0 for word in struct.unpack("<8I", digest))
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def embeddings_dict(call: EmbeddingsCall, prompt_tokens: int | None = None) -> dict[str, Any]:
    """The ``list`` object of embeddings; ``prompt_tokens`` overrides the counted usage."""
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": encode_vector(embedding_vector(item.text, call.dimensions), call.encoding_format),
        }
        for index, item in enumerate(call.inputs)
    ]
    tokens = sum(item.tokens for item in call.inputs) if prompt_tokens is None else prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": call.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
