"""Avro encoding of Turnout's events.

Every message on a Turnout topic is an Avro *single-object encoding* (Avro specification,
"Single object encoding"): the two marker bytes ``C3 01``, the 8-byte little-endian CRC-64-AVRO
fingerprint of the writer's schema in parsing canonical form, then the Avro binary body. A consumer
reads the fingerprint, finds the writer schema among those it knows (every version of every schema
in ``schemas/avro``, older versions kept under ``schemas/avro/history``), and resolves it to the
reader schema of the matching Python type. A message whose marker or fingerprint is unknown, or
whose body does not decode, raises ``UndecodableEvent``; agents send such messages to the
dead-letter topic.
"""

from __future__ import annotations

import dataclasses
import io
import types
import typing
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

import fastavro
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas.events import EVENT_TYPES

__all__ = ["AVRO_DIR", "EventCodec", "UndecodableEvent", "from_record", "to_record"]

AVRO_DIR = Path(__file__).parent / "avro"
MARKER = b"\xc3\x01"
T = TypeVar("T")


class UndecodableEvent(ValueError):
    """The bytes are not an event this codec can read."""


_PLAIN = frozenset({str, int, float, bool, bytes, type(None), dict})


def to_record(obj: Any) -> Any:
    """A dataclass event as the plain dicts and lists fastavro writes. Each class's field names are
    looked up once (:func:`_fields_of`): on every message this is as costly as the Avro write."""
    kind = type(obj)
    if kind in _PLAIN:
        return obj
    if kind is list:
        return [to_record(v) for v in obj]
    if hasattr(kind, "__dataclass_fields__"):
        return {name: to_record(getattr(obj, name)) for name in _fields_of(kind)}
    return obj


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def from_record(cls: type[T], data: Any) -> T:
    """The dataclass ``cls`` built from what fastavro read."""
    decoder: Callable[[Any], T] = _decoder_for(cast(Any, cls))
    return decoder(data)


@cache
def _decoder_for(tp: Any) -> Callable[[Any], Any]:
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        plan = [(f.name, _decoder_for(hints[f.name])) for f in dataclasses.fields(tp)]

        def decode_dataclass(data: dict[str, Any]) -> Any:
            return cast(Any, tp)(**{name: dec(data[name]) for name, dec in plan if name in data})

        return decode_dataclass
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        dec = _decoder_for(inner[0])
        return lambda v: None if v is None else dec(v)
    if origin is list:
        item = _decoder_for(typing.get_args(tp)[0])
        return lambda v: [item(x) for x in v]
    if origin is dict:
        return dict
    return lambda v: v


def _fingerprint(parsed: Any) -> bytes:
    # fastavro's hex digest is already the little-endian byte sequence the Avro spec writes
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


@dataclasses.dataclass(frozen=True, slots=True)
class _Writer:
    schema: Any
    header: bytes


class EventCodec:
    """Encodes and decodes every event type of ``schemas.events``."""

    def __init__(self, avro_dir: Path = AVRO_DIR, event_types: Iterable[type] = EVENT_TYPES) -> None:
        self._writers: dict[type, _Writer] = {}
        self._readers: dict[bytes, tuple[Any, Any, type]] = {}
        for cls in event_types:
            name = cls.AVRO_NAME  # type: ignore[attr-defined]
            schema = load_schema(str(avro_dir / f"{name}.avsc"))
            self._writers[cls] = _Writer(schema, MARKER + _fingerprint(schema))
            self._readers[_fingerprint(schema)] = (schema, schema, cls)
            for old in sorted((avro_dir / "history").glob(f"{name}.v*.avsc")):
                old_schema = load_schema(str(old))
                self._readers.setdefault(_fingerprint(old_schema), (old_schema, schema, cls))

    def encode(self, event: Any) -> bytes:
        writer = self._writers[type(event)]
        buf = io.BytesIO()
        buf.write(writer.header)
        fastavro.schemaless_writer(buf, writer.schema, to_record(event))
        return buf.getvalue()

    def decode(self, data: bytes) -> Any:
        """The event in ``data``, as the Python type of its schema."""
        if len(data) < 10 or data[:2] != MARKER:
            raise UndecodableEvent("not an Avro single-object encoded message")
        found = self._readers.get(bytes(data[2:10]))
        if found is None:
            raise UndecodableEvent(f"unknown schema fingerprint {data[2:10].hex()}")
        writer_schema, reader_schema, cls = found
        try:
            record = fastavro.schemaless_reader(io.BytesIO(data[10:]), writer_schema, reader_schema)
            return from_record(cls, record)
        except Exception as exc:  # fastavro raises many types on a corrupt body
            raise UndecodableEvent(f"corrupt {cls.__name__} body: {exc}") from exc

    def decode_as(self, cls: type[T], data: bytes) -> T:
        event = self.decode(data)
        if not isinstance(event, cls):
            raise UndecodableEvent(f"expected {cls.__name__}, got {type(event).__name__}")
        return event

    def schema_of(self, cls: type) -> Any:
        return self._writers[cls].schema
