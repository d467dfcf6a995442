"""The generated Avro writers and readers (``schemas.binary``) agree with fastavro byte for byte.

fastavro is the reference implementation here: every event, the hand-written samples and many
seeded random ones (edge integers, unicode, empty and long arrays), is written by both and must
give the same bytes, and each must read the other's bytes back to an equal event. Corrupt bodies
(cut short at every byte, trailing bytes, a bad union branch or boolean) are refused.
"""

from __future__ import annotations

import dataclasses
import io
import random
import types
import typing
from typing import Any

import fastavro
import pytest

from schemas import binary
from schemas.codec import EventCodec, UndecodableEvent, from_record, to_record
from schemas.events import EVENT_TYPES, ReplyEvent, RequestEvent
from tests.contract.test_event_codec import FULL, MINIMAL

CODEC = EventCodec()
SAMPLES = FULL + MINIMAL


def fastavro_body(event: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, CODEC.schema_of(type(event)), to_record(event))
    return buf.getvalue()


def fastavro_read(cls: type, body: bytes) -> Any:
    schema = CODEC.schema_of(cls)
    return from_record(cls, fastavro.schemaless_reader(io.BytesIO(body), schema, schema))


_INTS = [0, 1, -1, 63, -64, 64, -65, 2**31 - 1, -(2**31), 300, -300]
_LONGS = [*_INTS, 2**63 - 1, -(2**63), 2**40, -(2**35) - 7]
_TEXT = ["", "a", "Ünïcödé ✓ 😀", "x" * 200, "line\nbreak\x00nul"]


def random_value(tp: Any, rnd: random.Random, name: str = "") -> Any:
    """A random value of the Python type ``tp`` that the event's Avro schema can hold."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if rnd.random() < 0.3 else random_value(inner[0], rnd, name)
    if origin is list:
        (item,) = typing.get_args(tp)
        return [random_value(item, rnd, name) for _ in range(rnd.choice([0, 1, 2, 5, 70]))]
    if origin is dict:
        return {rnd.choice(_TEXT) + str(i): rnd.choice(_TEXT) for i in range(rnd.choice([0, 1, 3]))}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return tp(**{f.name: random_value(hints[f.name], rnd, f.name) for f in dataclasses.fields(tp)})
    if tp is bool:
        return rnd.random() < 0.5
    if tp is int:
        return rnd.choice(_LONGS if name.endswith(("_us", "_nano", "offset", "seed", "created")) else _INTS)
    if tp is float:
        # exact in 32 bits, so that the schema's few `float` fields read back equal
        return rnd.choice([0.0, -0.5, 1.25, 2.0**34, 2.0**-20])
    if tp is str:
        return rnd.choice(_TEXT)
    if tp is bytes:
        return rnd.choice([b"", b"\x00\xff", bytes(range(256))])
    raise AssertionError(f"no random value for {tp}")


def random_events(seed: int, per_type: int) -> list[Any]:
    rnd = random.Random(seed)
    return [random_value(cls, rnd) for cls in EVENT_TYPES for _ in range(per_type)]


def test_every_event_type_is_generated() -> None:
    # a schema that fell back to fastavro would still work, but slowly: none does today
    for cls in EVENT_TYPES:
        schema = CODEC.schema_of(cls)
        binary.writer_for(schema)
        binary.reader_for(schema, cls)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_samples_match_fastavro(event: Any) -> None:
    schema = CODEC.schema_of(type(event))
    body = binary.writer_for(schema)(event)
    assert body == fastavro_body(event)
    assert binary.reader_for(schema, type(event))(b"\xc3" + body, 1) == event
    assert CODEC.decode(CODEC.encode(event)) == event


@pytest.mark.parametrize("seed", range(6))
def test_random_events_match_fastavro(seed: int) -> None:
    for event in random_events(seed, per_type=8):
        cls = type(event)
        schema = CODEC.schema_of(cls)
        ours = binary.writer_for(schema)(event)
        theirs = fastavro_body(event)
        assert ours == theirs, cls.__name__
        assert binary.reader_for(schema, cls)(ours, 0) == event
        assert fastavro_read(cls, ours) == event


def test_float_arrays_are_packed_as_avro_floats() -> None:
    event = ReplyEvent(request_id="r", logical_model="m", embeddings=FULL[3].embeddings)
    vectors = [[float(i) / 8 for i in range(1536)], []]
    event = dataclasses.replace(event, embeddings=dataclasses.replace(event.embeddings, vectors=vectors))
    body = CODEC.encode(event)
    assert body[10:] == fastavro_body(event)
    assert CODEC.decode(body).embeddings.vectors == vectors


def test_a_body_cut_short_anywhere_is_refused() -> None:
    data = CODEC.encode(FULL[0])
    for end in range(10, len(data)):
        with pytest.raises(UndecodableEvent):
            CODEC.decode(data[:end])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(UndecodableEvent, match="bytes after the event"):
        CODEC.decode(CODEC.encode(FULL[3]) + b"\x00")


def test_a_bad_union_branch_or_boolean_is_refused() -> None:
    reply = ReplyEvent(request_id="r", logical_model="m")
    data = bytearray(CODEC.encode(reply))
    # body: request_id ("r": 02 72), then the response union's branch index
    assert data[10:13] == b"\x02r\x00"
    data[12] = 0x04  # branch 2 of a two-branch union
    with pytest.raises(UndecodableEvent, match="union branch 2"):
        CODEC.decode(bytes(data))
    data = bytearray(CODEC.encode(reply))
    cache_hit_at = 10 + len(b"\x02r\x00\x00\x02m\x00")  # ... logical_model "m", deployment ""
    assert data[cache_hit_at] == 0
    data[cache_hit_at] = 7
    with pytest.raises(UndecodableEvent, match="boolean byte 7"):
        CODEC.decode(bytes(data))


def test_memoryview_and_bytearray_input_decode() -> None:
    data = CODEC.encode(FULL[0])
    assert CODEC.decode(memoryview(data)) == FULL[0]
    assert CODEC.decode(bytearray(data)) == FULL[0]


def test_a_long_out_of_range_is_refused() -> None:
    event = dataclasses.replace(MINIMAL[0], received_at_us=2**63)
    assert isinstance(event, RequestEvent)
    with pytest.raises(OverflowError):
        CODEC.encode(event)


def test_a_varint_that_never_ends_is_refused() -> None:
    header = CODEC.encode(MINIMAL[0])[:10]
    with pytest.raises(UndecodableEvent):
        CODEC.decode(header + b"\xff" * 11)
