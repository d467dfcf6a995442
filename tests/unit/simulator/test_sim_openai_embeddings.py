"""The simulator's OpenAI embeddings: validation, deterministic unit vectors, usage, the reply object."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import orjson
import pytest

from simulator.openai_embeddings import (
    DEFAULT_DIMENSIONS,
    MAX_DIMENSIONS,
    MAX_INPUTS,
    EmbeddingInput,
    EmbeddingsCall,
    InvalidEmbeddingsRequest,
    embedding_vector,
    embeddings_dict,
    encode_vector,
    parse_embeddings_request,
)


def _parse(body: Any) -> EmbeddingsCall:
    return parse_embeddings_request(orjson.dumps(body))


def test_defaults() -> None:
    call = _parse({"model": "text-embedding-3-small", "input": "hello world"})
    assert call == EmbeddingsCall(
        "text-embedding-3-small", (EmbeddingInput("hello world", 3),), DEFAULT_DIMENSIONS, "float"
    )


@pytest.mark.parametrize(
    ("raw", "inputs"),
    [
        ("abcd", [("abcd", 1)]),
        ("a", [("a", 1)]),
        (["abcdefgh", "abcdefghi"], [("abcdefgh", 2), ("abcdefghi", 3)]),
        ([15339, 1917], [("15339 1917", 2)]),
        ([[15339, 1917], [3]], [("15339 1917", 2), ("3", 1)]),
        (["x"] * MAX_INPUTS, [("x", 1)] * MAX_INPUTS),
    ],
)
def test_every_input_form_and_its_token_count(raw: Any, inputs: list[tuple[str, int]]) -> None:
    call = _parse({"model": "m", "input": raw, "dimensions": 4, "encoding_format": "base64", "user": "u"})
    assert [(i.text, i.tokens) for i in call.inputs] == inputs
    assert (call.dimensions, call.encoding_format) == (4, "base64")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        ({"input": "x"}, "model"),
        ({"model": "", "input": "x"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": ""}, "input"),
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": ["ok", ""]}, "input"),
        ({"model": "m", "input": ["ok", 3]}, "input"),
        ({"model": "m", "input": [[1, "2"]]}, "input"),
        ({"model": "m", "input": [[]]}, "input"),
        ({"model": "m", "input": [True, 2]}, "input"),
        ({"model": "m", "input": {"text": "x"}}, "input"),
        ({"model": "m", "input": ["x"] * (MAX_INPUTS + 1)}, "input"),
        ({"model": "m", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": MAX_DIMENSIONS + 1}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": "8"}, "dimensions"),
        ({"model": "m", "input": "x", "dimensions": True}, "dimensions"),
        ({"model": "m", "input": "x", "user": 7}, "user"),
    ],
)
def test_invalid_requests_name_the_parameter(body: Any, param: str | None) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(InvalidEmbeddingsRequest) as caught:
        parse_embeddings_request(raw)
    assert caught.value.param == param
    assert caught.value.message


@pytest.mark.parametrize("dimensions", [1, 3, 8, 9, 256, MAX_DIMENSIONS])
def test_vectors_are_deterministic_unit_length_float32(dimensions: int) -> None:
    vector = embedding_vector("the same text", dimensions)
    assert vector == embedding_vector("the same text", dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    assert vector == list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *vector)))


def test_different_texts_give_different_vectors() -> None:
    assert embedding_vector("cats") != embedding_vector("dogs")


def test_a_shorter_vector_is_the_normalized_prefix_of_a_longer_one() -> None:
    long, short = embedding_vector("prefix", 64), embedding_vector("prefix", 16)
    norm = math.sqrt(sum(v * v for v in long[:16]))
    assert short == pytest.approx([v / norm for v in long[:16]], rel=1e-5)


def test_base64_is_little_endian_float32() -> None:
    vector = embedding_vector("encode me", 5)
    encoded = encode_vector(vector, "base64")
    assert isinstance(encoded, str)
    assert list(struct.unpack("<5f", base64.b64decode(encoded))) == vector
    assert encode_vector(vector, "float") == vector


def test_the_list_object() -> None:
    call = _parse({"model": "text-embedding-3-small", "input": ["first input", "second"], "dimensions": 3})
    assert embeddings_dict(call) == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": embedding_vector("first input", 3)},
            {"object": "embedding", "index": 1, "embedding": embedding_vector("second", 3)},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3 + 2, "total_tokens": 3 + 2},
    }


def test_usage_override() -> None:
    call = _parse({"model": "m", "input": "x"})
    assert embeddings_dict(call, prompt_tokens=99)["usage"] == {"prompt_tokens": 99, "total_tokens": 99}
