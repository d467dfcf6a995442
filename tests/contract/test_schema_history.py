"""Schema evolution: every schema reads what each earlier version of it wrote.

``schemas/avro/history`` holds a frozen, self-contained copy of every version of each top-level event
schema (``turnout.<Name>.v<N>.avsc``). Those files are never edited; a schema change adds the next
version. ``EventCodec`` registers their fingerprints so old messages still decode.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.codec import AVRO_DIR, EventCodec, to_record
from schemas.codec import _fingerprint as codec_fingerprint  # the header EventCodec registers
from schemas.events import EVENT_TYPES

HISTORY_DIR = AVRO_DIR / "history"
HISTORY_FILES = sorted(HISTORY_DIR.glob("*.avsc"))
VERSION = re.compile(r"^(turnout\.[A-Za-z]+)\.v([1-9][0-9]*)\.avsc$")
SAMPLE_PRIMITIVES: dict[str, Any] = {
    "string": "s-é",
    "long": 2**40 + 1,
    "int": 7,
    "double": 0.25,
    "float": 0.5,
    "boolean": True,
    "bytes": b"\x00\xff",
}


def _versions(avro_name: str) -> list[tuple[int, Path]]:
    found = []
    for path in HISTORY_FILES:
        match = VERSION.match(path.name)
        if match and match.group(1) == avro_name:
            found.append((int(match.group(2)), path))
    return sorted(found)


def _parse_alone(path: Path) -> Any:
    """The schema in ``path``, parsed with nothing else in scope: fails if it names an outside type."""
    return fastavro.parse_schema(json.loads(path.read_text()), named_schemas={})


def _sample(schema: Any, named: dict[str, Any], full: bool) -> Any:
    """A record for ``schema``: with ``full``, every union's value branch and two items per array."""
    if isinstance(schema, str):
        return SAMPLE_PRIMITIVES[schema] if schema in SAMPLE_PRIMITIVES else _sample(named[schema], named, full)
    if isinstance(schema, list):
        if "null" in schema and not full:
            return None
        return _sample(next(b for b in schema if b != "null"), named, full)
    kind = schema["type"]
    if kind == "record":
        named[schema["name"]] = schema
        return {f["name"]: _sample(f["type"], named, full) for f in schema["fields"]}
    if kind == "array":
        return [_sample(schema["items"], named, full) for _ in range(2 if full else 0)]
    if kind == "map":
        return {"k": _sample(schema["values"], named, full)} if full else {}
    if kind in SAMPLE_PRIMITIVES:
        return SAMPLE_PRIMITIVES[kind]
    raise AssertionError(f"the sample writer does not know {kind!r} yet")


def _assert_carries(decoded: Any, written: Any, where: str = "") -> None:
    """Every value written is read back (fields the reader dropped are skipped)."""
    if isinstance(written, dict) and isinstance(decoded, dict):
        for key, value in written.items():
            if key in decoded:
                _assert_carries(decoded[key], value, f"{where}.{key}")
    elif isinstance(written, list):
        assert isinstance(decoded, list) and len(decoded) == len(written), where
        for i, (d, w) in enumerate(zip(decoded, written, strict=True)):
            _assert_carries(d, w, f"{where}[{i}]")
    else:
        assert decoded == written, where


def test_every_event_type_has_a_history() -> None:
    for cls in EVENT_TYPES:
        name: str = cls.AVRO_NAME  # type: ignore[attr-defined]
        versions = [v for v, _ in _versions(name)]
        assert versions, f"{name} has no history/{name}.v1.avsc"
        assert versions == list(range(1, len(versions) + 1)), f"{name}: versions must be v1, v2, ... without gaps"


@pytest.mark.parametrize("path", HISTORY_FILES, ids=lambda p: p.name)
def test_history_files_are_self_contained_versions_of_an_event(path: Path) -> None:
    match = VERSION.match(path.name)
    assert match is not None, f"{path.name} is not named turnout.<Name>.v<N>.avsc"
    parsed = _parse_alone(path)
    assert parsed["name"] == match.group(1)
    assert match.group(1) in {cls.AVRO_NAME for cls in EVENT_TYPES}  # type: ignore[attr-defined]
    # EventCodec loads history with fastavro's load_schema, which looks outside types up next to the file
    assert to_parsing_canonical_form(fastavro.schema.load_schema(str(path))) == to_parsing_canonical_form(parsed)


CASES = [
    (cls, version, path, full)
    for cls in EVENT_TYPES
    for version, path in _versions(cls.AVRO_NAME)  # type: ignore[attr-defined]
    for full in (True, False)
]


@pytest.mark.parametrize(
    ("cls", "version", "path", "full"),
    CASES,
    ids=[f"{p.name}-{'full' if full else 'empty'}" for _, _, p, full in CASES],
)
def test_the_codec_reads_what_each_history_version_wrote(cls: Any, version: int, path: Path, full: bool) -> None:
    old = _parse_alone(path)
    written = _sample(old, {}, full)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old, written)
    message = b"\xc3\x01" + codec_fingerprint(old) + body.getvalue()

    decoded = EventCodec().decode(message)

    assert type(decoded) is cls
    _assert_carries(to_record(decoded), written)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__name__)
def test_the_current_schema_is_the_latest_version_or_reads_it(cls: Any) -> None:
    codec = EventCodec()
    current = codec.schema_of(cls)
    latest_version, latest_path = _versions(cls.AVRO_NAME)[-1]
    latest = _parse_alone(latest_path)
    same = fingerprint(to_parsing_canonical_form(current), "CRC-64-AVRO") == fingerprint(
        to_parsing_canonical_form(latest), "CRC-64-AVRO"
    )
    if same:
        return
    # changed since v{latest_version}: the current schema must resolve data the latest version wrote
    for full in (True, False):
        written = _sample(latest, {}, full)
        body = io.BytesIO()
        fastavro.schemaless_writer(body, latest, written)
        body.seek(0)
        read = fastavro.schemaless_reader(body, latest, current)
        _assert_carries(read, written, f"v{latest_version}")
