"""``to_gemini_schema``: JSON Schema -> the Gemini API's OpenAPI ``Schema`` subset, one row per rule."""

from __future__ import annotations

from typing import Any

import pytest

from streams.providers.gemini_schema import to_gemini_schema

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    ("not an object", True, {}),
    ("type names upper-cased", {"type": "boolean"}, {"type": "BOOLEAN"}),
    ("nullable from a type list", {"type": ["null", "integer"]}, {"type": "INTEGER", "nullable": True}),
    (
        "several types -> anyOf",
        {"type": ["string", "number", "null"], "description": "d"},
        {
            "description": "d",
            "anyOf": [{"type": "STRING", "description": "d"}, {"type": "NUMBER", "description": "d"}],
            "nullable": True,
        },
    ),
    (
        "anyOf with a null branch",
        {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}], "description": "d"},
        {"type": "STRING", "maxLength": 5, "description": "d", "nullable": True},
    ),
    (
        "oneOf -> anyOf",
        {"oneOf": [{"type": "string"}, {"type": "integer", "format": "int64"}]},
        {"anyOf": [{"type": "STRING"}, {"type": "INTEGER", "format": "int64"}]},
    ),
    ("const -> enum", {"const": "on"}, {"type": "STRING", "enum": ["on"]}),
    ("non-string enum dropped", {"type": "integer", "enum": [1, 2]}, {"type": "INTEGER"}),
    ("known format kept", {"type": "string", "format": "date-time"}, {"type": "STRING", "format": "date-time"}),
    ("unknown format dropped", {"type": "string", "format": "email"}, {"type": "STRING"}),
    ("format of another type dropped", {"type": "number", "format": "int32"}, {"type": "NUMBER"}),
    (
        "unsupported keywords stripped",
        {
            "$schema": "x",
            "$id": "y",
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string"},
            "examples": [["a"]],
            "minItems": 1,
            "not": {"type": "null"},
            "additionalProperties": False,
        },
        {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1},
    ),
    (
        "required limited to properties; object type implied",
        {"properties": {"a": {"type": "string", "title": "A", "default": "z"}}, "required": ["a", "b"]},
        {"type": "OBJECT", "properties": {"a": {"type": "STRING", "title": "A", "default": "z"}}, "required": ["a"]},
    ),
    (
        "definitions inlined",
        {"definitions": {"Id": {"type": "string", "pattern": "^[a-z]+$"}}, "items": {"$ref": "#/definitions/Id"}},
        {"type": "ARRAY", "items": {"type": "STRING", "pattern": "^[a-z]+$"}},
    ),
    (
        "ref siblings override the target",
        {
            "$defs": {"N": {"type": "integer", "description": "n"}},
            "properties": {"x": {"$ref": "#/$defs/N", "description": "x"}},
        },
        {"type": "OBJECT", "properties": {"x": {"type": "INTEGER", "description": "x"}}},
    ),
    (
        "unknown ref: the property is left out",
        {"properties": {"x": {"$ref": "#/$defs/Missing"}, "y": {"type": "string"}}, "required": ["x", "y"]},
        {"type": "OBJECT", "properties": {"y": {"type": "STRING"}}, "required": ["y"]},
    ),
    (
        "recursive ref cut where it would recurse",
        {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "child": {"$ref": "#/$defs/Node"}},
                }
            },
            "$ref": "#/$defs/Node",
        },
        {"type": "OBJECT", "properties": {"name": {"type": "STRING"}}},
    ),
    (
        "allOf merged",
        {
            "$defs": {"Base": {"properties": {"id": {"type": "integer"}}, "required": ["id"]}},
            "allOf": [{"$ref": "#/$defs/Base"}, {"properties": {"tag": {"type": "string"}}, "required": ["tag"]}],
            "description": "merged",
        },
        {
            "description": "merged",
            "type": "OBJECT",
            "properties": {"id": {"type": "INTEGER"}, "tag": {"type": "STRING"}},
            "required": ["id", "tag"],
        },
    ),
    (
        "numeric bounds kept, exclusive ones dropped",
        {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMaximum": 1, "multipleOf": 0.5},
        {"type": "NUMBER", "minimum": 0, "maximum": 1},
    ),
]


@pytest.mark.parametrize(("schema", "expected"), [(s, e) for _, s, e in CASES], ids=[name for name, _, _ in CASES])
def test_conversion(schema: Any, expected: dict[str, Any]) -> None:
    assert to_gemini_schema(schema) == expected
