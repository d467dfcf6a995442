"""validate_json_output: JSON mode and structured outputs, as OpenAI's response_format spells them."""

from __future__ import annotations

import json

import pytest

from streams.guards.json_output import validate_json_output

SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "person",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
            "required": ["name", "age"],
            "additionalProperties": False,
            "$defs": {"unused": {"type": "string"}},
        },
    },
}


@pytest.mark.parametrize(
    ("content", "response_format", "error"),
    [
        ("anything", None, None),
        ("anything", {"type": "text"}, None),
        ('{"a": 1}', {"type": "json_object"}, None),
        ('  {"a": [1, 2]}\n', {"type": "json_object"}, None),
        ("[1, 2]", {"type": "json_object"}, "not an object (got list)"),
        ('Sure! {"a": 1}', {"type": "json_object"}, "not valid JSON"),
        ('```json\n{"a": 1}\n```', {"type": "json_object"}, "not valid JSON"),
        ('{"name": "Ada", "age": 36}', SCHEMA, None),
        ('{"name": "Ada", "age": -1}', SCHEMA, "at age: -1 is less than the minimum of 0"),
        ('{"name": "Ada"}', SCHEMA, "at (root): 'age' is a required property"),
        ('{"name": "Ada", "age": 3, "x": 1}', SCHEMA, "Additional properties are not allowed"),
        ('{"name": 5, "age": 3}', SCHEMA, "at name: 5 is not of type 'string'"),
        ("not json", SCHEMA, "not valid JSON"),
        ("[]", {"type": "json_schema", "json_schema": {"name": "x"}}, None),
    ],
)
def test_validate(content: str, response_format: dict[str, object] | None, error: str | None) -> None:
    result = validate_json_output(content, json.dumps(response_format) if response_format else None)
    if error is None:
        assert result is None
    else:
        assert result is not None and error in result


def test_requests_that_cannot_be_checked_are_reported() -> None:
    assert validate_json_output("{}", "{not json") == "the request's response_format is not valid JSON"
    bad = {"type": "json_schema", "json_schema": {"schema": {"type": "no-such-type"}}}
    assert "schema is not valid" in (validate_json_output("{}", json.dumps(bad)) or "")


def test_messages_are_short() -> None:
    long_name = {"type": "json_schema", "json_schema": {"schema": {"type": "string", "maxLength": 1}}}
    error = validate_json_output(json.dumps("x" * 1000), json.dumps(long_name))
    assert error is not None and len(error) <= 200
