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

from schemas import binary
from schemas.events import EVENT_TYPES

__all__ = ["AVRO_DIR", "EventCodec", "UndecodableEvent", "from_record", "to_record"]

AVRO_DIR = Path(__file__).parent / "avro"
MARKER = b"\xc3\x01"
T = TypeVar("T")


class UndecodableEvent(ValueError):
    """The bytes are not an event this codec can read."""


_PLAIN = frozenset({str, int, float, bool, bytes, type(None), dict})


def to_record(obj: Any) -> Any:
    """A dataclass event as the plain dicts and lists fastavro writes."""
    kind = type(obj)
    if hasattr(kind, "__dataclass_fields__"):
        return _encoder_for(cast(Any, kind))(obj)
    if kind is list:
        return [to_record(v) for v in obj]
    return obj


def from_record(cls: type[T], data: Any) -> T:
    """The dataclass ``cls`` built from what fastavro read."""
    decoder: Callable[[Any], T] = _decoder_for(cast(Any, cls))
    return decoder(data)


# Each event class gets an encoder and a decoder written out field by field, as ``dataclasses`` writes
# a class's ``__init__``. Every message pays for these beside fastavro's own work; measured here
# against a loop over the fields that looked at each value's type: to_record of a RequestRecord
# 17 -> 4 us, of a RequestEvent 17 -> 4 us; from_record 32 -> 19 and 35 -> 21 us (the rest is the
# frozen dataclasses' __init__).


def _compile(source: str, env: dict[str, Any], name: str) -> Callable[[Any], Any]:
    exec(source, env)  # the source is built from the field names of our own dataclasses
    return cast(Callable[[Any], Any], env[name])


def _bind(env: dict[str, Any], value: Any) -> str:
    name = f"_f{len(env)}"
    env[name] = value
    return name


def _plain(tp: Any) -> bool:
    """Whether values of ``tp`` go to fastavro and come back from it as they are."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return all(_plain(a) for a in typing.get_args(tp))
    if origin is list:
        return _plain(typing.get_args(tp)[0])
    return origin is dict or tp in _PLAIN


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda v: None if v is None else convert(v)


def _converter(tp: Any, env: dict[str, Any], make: Callable[[Any], Callable[[Any], Any]]) -> str | None:
    """The name (bound in ``env``) of a function that converts a value of ``tp``; None when the value
    passes as it is. ``make`` gives a dataclass's converter."""
    if _plain(tp):
        return None
    if dataclasses.is_dataclass(tp):
        return _bind(env, make(tp))
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            convert = _converter(inner[0], env, make)
            return None if convert is None else _bind(env, _optional(env[convert]))
    if origin is list:
        item = _converter(typing.get_args(tp)[0], env, make)
        if item is not None:
            convert_item = env[item]
            return _bind(env, lambda v: [convert_item(x) for x in v])
    return _bind(env, to_record if make is _encoder_for else lambda v: v)


@cache
def _encoder_for(cls: type) -> Callable[[Any], dict[str, Any]]:
    hints = typing.get_type_hints(cls)
    env: dict[str, Any] = {}
    items = []
    for f in dataclasses.fields(cast(Any, cls)):
        convert = _converter(hints[f.name], env, _encoder_for)
        items.append(f"{f.name!r}: {convert}(o.{f.name})" if convert else f"{f.name!r}: o.{f.name}")
    return _compile(f"def encode(o):\n    return {{{', '.join(items)}}}\n", env, "encode")


@cache
def _decoder_for(tp: Any) -> Callable[[Any], Any]:
    if not dataclasses.is_dataclass(tp):
        scope: dict[str, Any] = {}
        convert = _converter(tp, scope, _decoder_for)
        return (lambda v: v) if convert is None else cast(Callable[[Any], Any], scope[convert])
    hints = typing.get_type_hints(tp)
    fields = dataclasses.fields(tp)
    env: dict[str, Any] = {"cls": tp}
    args = []
    for f in fields:
        convert = _converter(hints[f.name], env, _decoder_for)
        args.append(f"{f.name}={convert}(d[{f.name!r}])" if convert else f"{f.name}=d[{f.name!r}]")
    every_field = _compile(f"def decode(d):\n    return cls({', '.join(args)})\n", env, "decode")
    plan = [(f.name, _decoder_for(hints[f.name])) for f in fields]

    def decode_dataclass(data: dict[str, Any]) -> Any:
        try:
            return every_field(data)
        except KeyError:  # a record without some field (not one fastavro resolved): its default applies
            return cast(Any, tp)(**{name: dec(data[name]) for name, dec in plan if name in data})

    return decode_dataclass


def _fingerprint(parsed: Any) -> bytes:
    # fastavro's hex digest is already the little-endian byte sequence the Avro spec writes
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


@dataclasses.dataclass(frozen=True, slots=True)
class _Writer:
    schema: Any
    header: bytes
    body: Callable[[Any], bytes] | None  # generated by schemas.binary; None: fastavro writes it


def _generated(build: Callable[..., T], *args: Any) -> T | None:
    try:
        return build(*args)
    except NotImplementedError:  # a schema shape schemas.binary does not generate: fastavro's turn
        return None


class EventCodec:
    """Encodes and decodes every event type of ``schemas.events``."""

    def __init__(self, avro_dir: Path = AVRO_DIR, event_types: Iterable[type] = EVENT_TYPES) -> None:
        self._writers: dict[type, _Writer] = {}
        self._readers: dict[bytes, tuple[Any, Any, type]] = {}
        # bodies written with the current schema, read by generated code (no resolution needed)
        self._fast_readers: dict[bytes, tuple[Callable[[bytes, int], Any], type]] = {}
        for cls in event_types:
            name = cls.AVRO_NAME  # type: ignore[attr-defined]
            schema = load_schema(str(avro_dir / f"{name}.avsc"))
            self._writers[cls] = _Writer(schema, MARKER + _fingerprint(schema), _generated(binary.writer_for, schema))
            self._readers[_fingerprint(schema)] = (schema, schema, cls)
            read = _generated(binary.reader_for, schema, cls)
            if read is not None:
                self._fast_readers[_fingerprint(schema)] = (read, cls)
            for old in sorted((avro_dir / "history").glob(f"{name}.v*.avsc")):
                old_schema = load_schema(str(old))
                self._readers.setdefault(_fingerprint(old_schema), (old_schema, schema, cls))

    def encode(self, event: Any) -> bytes:
        writer = self._writers[type(event)]
        if writer.body is not None:
            return writer.header + writer.body(event)
        buf = io.BytesIO()
        buf.write(writer.header)
        fastavro.schemaless_writer(buf, writer.schema, to_record(event))
        return buf.getvalue()

    def decode(self, data: bytes) -> Any:
        """The event in ``data``, as the Python type of its schema."""
        if len(data) < 10 or data[:2] != MARKER:
            raise UndecodableEvent("not an Avro single-object encoded message")
        key = bytes(data[2:10])
        fast = self._fast_readers.get(key)
        if fast is not None:
            read, cls = fast
            try:
                return read(data if type(data) is bytes else bytes(data), 10)
            except Exception as exc:  # a cut-short or corrupt body raises many types
                raise UndecodableEvent(f"corrupt {cls.__name__} body: {exc}") from exc
        found = self._readers.get(key)
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
