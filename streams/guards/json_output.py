"""Hold a reply to the ``response_format`` its request asked for (OpenAI's shape).

- ``{"type": "json_object"}``: the content must parse as a JSON object;
- ``{"type": "json_schema", "json_schema": {"schema": {...}}}``: the content must parse as JSON and be
  valid against the schema (JSON Schema Draft 2020-12, via ``jsonschema``; ``format`` is not checked);
- no ``response_format``, ``{"type": "text"}`` or another type: nothing to check.

A ``response_format`` that cannot be read, or a schema that is not valid JSON Schema, is reported too:
the reply cannot be shown to conform, and ingress should have refused such a request.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

__all__ = ["validate_json_output"]

_MAX_MESSAGE = 200


def validate_json_output(content: str, response_format_json: str | None) -> str | None:
    """None when ``content`` satisfies the request's response format, else a short reason why not."""
    if not response_format_json:
        return None
    checker = _checker(response_format_json)
    if isinstance(checker, str):
        return checker
    kind, validator = checker
    if kind is None:
        return None
    try:
        value = json.loads(content)
    except ValueError as exc:
        return _short(f"the reply is not valid JSON: {exc}")
    if kind == "json_object":
        return None if isinstance(value, dict) else f"the reply is JSON but not an object (got {type(value).__name__})"
    if validator is None:
        return None
    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "(root)"
    return _short(f"the reply does not match the schema at {where}: {error.message}")


@functools.lru_cache(maxsize=256)
def _checker(response_format_json: str) -> tuple[str | None, Draft202012Validator | None] | str:
    """The kind of check and the compiled validator for one ``response_format``, or why there is none."""
    try:
        response_format: Any = json.loads(response_format_json)
    except ValueError:
        return "the request's response_format is not valid JSON"
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return kind, None
    if kind != "json_schema":
        return None, None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None:
        return kind, None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return _short(f"the request's JSON schema is not valid: {exc.message}")
    return kind, Draft202012Validator(schema)


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
