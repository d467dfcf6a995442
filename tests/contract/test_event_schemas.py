"""The Avro files are the source of truth: each dataclass in ``schemas.events`` mirrors its schema."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

import pytest

import schemas.events
from schemas.codec import AVRO_DIR
from schemas.events import EVENT_TYPES

SCHEMA_FILES = sorted(AVRO_DIR.glob("turnout.*.avsc"))
PRIMITIVES: dict[str, Any] = {
    "string": str,
    "long": int,
    "int": int,
    "double": float,
    "float": float,
    "boolean": bool,
    "bytes": bytes,
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _dataclass_for(record_name: str) -> Any:
    short = record_name.removeprefix("turnout.")
    cls = getattr(schemas.events, short, None)
    assert cls is not None and dataclasses.is_dataclass(cls), f"no dataclass for {record_name}"
    return cls


def _python_type(avro_type: Any) -> Any:
    """The annotation a dataclass field must have for ``avro_type``."""
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        assert len(branches) == 1, f"only [null, X] unions are mirrored: {avro_type}"
        inner = _python_type(branches[0])
        return inner | None if "null" in avro_type else inner
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "array":
            return list[_python_type(avro_type["items"])]  # type: ignore[misc]
        if kind == "map":
            return dict[str, _python_type(avro_type["values"])]  # type: ignore[misc]
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        raise AssertionError(f"unexpected inline {kind} (named types live in their own file)")
    if avro_type in PRIMITIVES:
        return PRIMITIVES[avro_type]
    return _dataclass_for(avro_type)


def _references(avro_type: Any) -> set[str]:
    if isinstance(avro_type, list):
        return set().union(*(_references(b) for b in avro_type))
    if isinstance(avro_type, dict):
        return _references(avro_type.get("items") or avro_type.get("values") or avro_type["type"])
    return set() if avro_type in PRIMITIVES or avro_type == "null" else {avro_type}


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def test_there_is_a_schema_for_every_event_type() -> None:
    names = {p.name.removesuffix(".avsc") for p in SCHEMA_FILES}
    assert {cls.AVRO_NAME for cls in EVENT_TYPES} <= names  # type: ignore[attr-defined]


def test_every_dataclass_in_events_has_a_schema() -> None:
    dataclass_names = {
        name for name in schemas.events.__all__ if dataclasses.is_dataclass(getattr(schemas.events, name))
    }
    assert dataclass_names == {p.name.removesuffix(".avsc").removeprefix("turnout.") for p in SCHEMA_FILES}


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_file_is_named_after_its_record(path: Path) -> None:
    schema = _load(path)
    assert schema["type"] == "record"
    assert f"{schema['namespace']}.{schema['name']}.avsc" == path.name


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_dataclass_mirrors_its_schema(path: Path) -> None:
    schema = _load(path)
    cls = _dataclass_for(schema["name"])
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    assert set(fields) == {f["name"] for f in schema["fields"]}
    for avro_field in schema["fields"]:
        name = avro_field["name"]
        assert hints[name] == _python_type(avro_field["type"]), name
        default = _default(fields[name])
        if "default" not in avro_field:
            assert default is dataclasses.MISSING, f"{name} is required in Avro but has a default in Python"
        elif default is not dataclasses.MISSING:
            assert default == avro_field["default"], name


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_every_record_an_event_reaches_has_a_dataclass(cls: Any) -> None:
    reached: set[str] = set()
    pending = [cls.AVRO_NAME]
    while pending:
        name = pending.pop()
        if name in reached:
            continue
        reached.add(name)
        schema = _load(AVRO_DIR / f"{name}.avsc")
        record_cls = _dataclass_for(name)
        assert {f.name for f in dataclasses.fields(record_cls)} == {f["name"] for f in schema["fields"]}
        for field in schema["fields"]:
            pending.extend(_references(field["type"]))
    assert cls.AVRO_NAME in reached


def test_records_with_avro_names_are_exactly_the_event_types() -> None:
    with_names = [
        getattr(schemas.events, n) for n in schemas.events.__all__ if hasattr(getattr(schemas.events, n), "AVRO_NAME")
    ]
    assert set(with_names) == set(EVENT_TYPES)
    assert [cls.AVRO_NAME for cls in EVENT_TYPES] == [f"turnout.{cls.__name__}" for cls in EVENT_TYPES]  # type: ignore[attr-defined]
