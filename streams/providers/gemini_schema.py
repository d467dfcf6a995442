"""JSON Schema (what OpenAI clients send for tool parameters and ``json_schema`` replies) -> the
subset of OpenAPI 3.0 that the Gemini API's ``Schema`` object accepts.

Written from the Gemini API reference for ``Schema`` (ai.google.dev/api/caching#Schema): fields
``type`` (the ``Type`` enum: STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, OBJECT, NULL), ``format``,
``title``, ``description``, ``nullable``, ``enum`` (strings only), ``items``, ``properties``,
``required``, ``anyOf``, ``propertyOrdering``, ``default``, ``example`` and the ``min*``/``max*``,
``minimum``/``maximum`` and ``pattern`` bounds. Anything else is refused by the API with a 400, so:

Converted:
- ``type`` names -> the upper-case ``Type`` enum; ``"type": ["string", "null"]`` -> ``STRING`` with
  ``nullable: true``; several non-null types -> ``anyOf`` of one schema per type;
- ``anyOf``/``oneOf`` -> ``anyOf`` (a ``{"type": "null"}`` branch becomes ``nullable``; a single
  remaining branch is inlined); ``allOf`` -> its branches merged (properties and required united);
- ``const`` (a string) -> a one-value ``enum``;
- ``$ref`` to ``#/$defs/...`` or ``#/definitions/...`` -> inlined; a reference back into itself
  (a recursive model) is cut: the property that would recurse is left out.

Stripped: ``$schema``, ``$id``, ``$defs``, ``additionalProperties``, ``patternProperties``,
``unevaluatedProperties``, ``not``, ``if``/``then``/``else``, ``examples``, ``exclusiveMinimum``/
``exclusiveMaximum``, ``multipleOf``, ``uniqueItems``, ``readOnly``/``writeOnly``, ``deprecated``,
``strict``; a ``format`` Gemini does not know for the type (only ``enum``/``date-time`` for
strings, ``int32``/``int64`` for integers, ``float``/``double`` for numbers); an ``enum`` whose
values are not all strings; ``required`` names that are not properties.
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_gemini_schema"]

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
    "null": "NULL",
}
_FORMATS = {"STRING": {"enum", "date-time"}, "INTEGER": {"int32", "int64"}, "NUMBER": {"float", "double"}}
_KEPT = (
    "title",
    "description",
    "default",
    "example",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "propertyOrdering",
)
_NULL = {"type": "null"}


def to_gemini_schema(schema: Any) -> dict[str, Any]:
    """The Gemini ``Schema`` for a JSON Schema (``{}`` for anything that is not an object)."""
    if not isinstance(schema, dict):
        return {}
    defs = {**_dict(schema.get("definitions")), **_dict(schema.get("$defs"))}
    return _convert(schema, defs, frozenset()) or {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _resolve(
    node: dict[str, Any], defs: dict[str, Any], seen: frozenset[str]
) -> tuple[dict[str, Any], frozenset[str]] | None:
    """``node`` with its ``$ref`` followed (None for a cycle or a reference Turnout cannot follow)."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node, seen
    name = ref.rsplit("/", 1)[-1]
    target = defs.get(name)
    if ref in seen or not isinstance(target, dict):
        return None
    rest = {k: v for k, v in node.items() if k != "$ref"}
    return _resolve({**target, **rest}, defs, seen | {ref})


def _merge_all_of(node: dict[str, Any], defs: dict[str, Any], seen: frozenset[str]) -> dict[str, Any]:
    merged = {k: v for k, v in node.items() if k != "allOf"}
    for branch in node.get("allOf") or []:
        found = _resolve(branch, defs, seen) if isinstance(branch, dict) else None
        if found is None:
            continue
        part = found[0]
        props = {**_dict(merged.get("properties")), **_dict(part.get("properties"))}
        required = [*(merged.get("required") or []), *(part.get("required") or [])]
        merged = {**part, **merged, "properties": props, "required": list(dict.fromkeys(required))}
    return merged


def _convert(raw: Any, defs: dict[str, Any], seen: frozenset[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return {}
    found = _resolve(raw, defs, seen)
    if found is None:
        return None
    node, seen = found
    if isinstance(node.get("allOf"), list):
        node = _merge_all_of(node, defs, seen)
    out: dict[str, Any] = {key: node[key] for key in _KEPT if key in node}
    nullable = node.get("nullable") is True
    types = node.get("type")
    if isinstance(types, list):
        nullable = nullable or "null" in types
        types = [t for t in types if t != "null"]
        if len(types) > 1:
            per_type = [_convert({**node, "type": t}, defs, seen) for t in types]
            out["anyOf"] = [v for v in per_type if v is not None]
            return {**out, "nullable": True} if nullable else out
        types = types[0] if types else None
    if isinstance(types, str) and types in _TYPES:
        out["type"] = _TYPES[types]
    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list):
        nullable = nullable or _NULL in branches
        kept = [b for b in branches if b != _NULL]
        variants = [v for v in (_convert(b, defs, seen) for b in kept) if v is not None]
        if len(variants) == 1:
            out = {**variants[0], **out}
        elif variants:
            out["anyOf"] = variants
    _add_enum(node, out)
    _add_structure(node, out, defs, seen)
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    if nullable:
        out["nullable"] = True
    return out


def _add_enum(node: dict[str, Any], out: dict[str, Any]) -> None:
    values = [node["const"]] if "const" in node else node.get("enum")
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        out["enum"] = list(values)
        out.setdefault("type", "STRING")


def _add_structure(node: dict[str, Any], out: dict[str, Any], defs: dict[str, Any], seen: frozenset[str]) -> None:
    props = node.get("properties")
    if isinstance(props, dict):
        converted = {name: _convert(sub, defs, seen) for name, sub in props.items()}
        out["properties"] = {name: sub for name, sub in converted.items() if sub is not None}
        required = [r for r in node.get("required") or [] if r in out["properties"]]
        if required:
            out["required"] = required
        out.setdefault("type", "OBJECT")
    items = node.get("items")
    if isinstance(items, dict):
        converted_items = _convert(items, defs, seen)
        if converted_items is not None:
            out["items"] = converted_items
        out.setdefault("type", "ARRAY")
