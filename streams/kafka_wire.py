"""The worker's most frequent Kafka messages, a fetch request (v11) and its answer, written and read
with ``struct`` calls instead of aiokafka's walk over their schemas.

aiokafka 0.14 encodes and decodes every request and answer field by field through its generic
``Schema``/``Array`` types, in Python. A worker's fetch lists a partition of every topic it
consumes (a dozen in the split layout), and one is sent and answered on every hop: measured on this
2-core machine, 64-92 µs to build and encode the request and 59-102 µs to decode an answer carrying
one 3 KB record set (two hours of the host), both on the worker's event loop, on the request's path
(``python -m bench.hops --trace``). The functions here take 15 and 20 µs, for exactly the bytes and
objects aiokafka's own code gives (``tests/contract/test_kafka_wire.py`` checks both against it on
generated messages, and the stage tests run on them against the broker).

:func:`install` puts them in place of ``FetchRequest_v11.encode`` and ``FetchResponse_v11.decode``;
the rest of aiokafka is unchanged. Other versions (an older broker) keep aiokafka's code.
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

from aiokafka.protocol.fetch import FetchRequest_v11, FetchResponse_v11

__all__ = ["decode_fetch_response_v11", "encode_fetch_request_v11", "install"]

_REQUEST_HEAD = struct.Struct(">iiiibii")  # replica, max wait, min bytes, max bytes, isolation, session, epoch
_PARTITION_REQUEST = struct.Struct(">iiqqi")  # partition, leader epoch, fetch offset, log start, max bytes
_RESPONSE_HEAD = struct.Struct(">ihi")  # throttle, error, session
_PARTITION_HEAD = struct.Struct(">ihqqq")  # partition, error, high watermark, last stable, log start
_ABORTED = struct.Struct(">qq")  # producer id, first offset
_PARTITION_TAIL = struct.Struct(">ii")  # preferred read replica, record set size
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")

_AIOKAFKA_ENCODE = FetchRequest_v11.encode  # aiokafka's own, for the contract tests
_AIOKAFKA_DECODE = FetchResponse_v11.decode


def _string(value: str | None) -> bytes:
    if value is None:
        return b"\xff\xff"
    encoded = value.encode()
    return _INT16.pack(len(encoded)) + encoded


def _count(items: Any) -> bytes:
    return _INT32.pack(-1 if items is None else len(items))


def encode_fetch_request_v11(request: FetchRequest_v11) -> bytes:
    """The request's bytes, as ``FetchRequest_v11.SCHEMA.encode`` writes them."""
    fields = request.__dict__
    out = [
        _REQUEST_HEAD.pack(
            fields["replica_id"],
            fields["max_wait_time"],
            fields["min_bytes"],
            fields["max_bytes"],
            fields["isolation_level"],
            fields["session_id"],
            fields["session_epoch"],
        )
    ]
    topics = fields["topics"]
    out.append(_count(topics))
    pack_partition = _PARTITION_REQUEST.pack
    for topic, partitions in topics or ():
        out.append(_string(topic))
        out.append(_count(partitions))
        out.extend(pack_partition(*partition) for partition in partitions or ())
    forgotten = fields["forgotten_topics_data"]
    out.append(_count(forgotten))
    for topic, partitions in forgotten or ():
        out.append(_string(topic))
        out.append(_count(partitions))
        out.extend(_INT32.pack(p) for p in partitions or ())
    out.append(_string(fields["rack_id"]))
    return b"".join(out)


def decode_fetch_response_v11(data: BytesIO | bytes) -> FetchResponse_v11:
    """The answer from its bytes, as ``FetchResponse_v11.decode`` reads it (the same nested lists and
    tuples); a ``BytesIO`` is read from its position and left at the answer's end."""
    stream = data if isinstance(data, BytesIO) else BytesIO(data)
    buffer = stream.getvalue()  # the bytes the stream was made from: not copied
    end = len(buffer)
    try:
        throttle, error, session = _RESPONSE_HEAD.unpack_from(buffer, stream.tell())
        pos = stream.tell() + _RESPONSE_HEAD.size
        (n_topics,) = _INT32.unpack_from(buffer, pos)
        pos += 4
        topics: list[tuple[Any, ...]] = []
        for _ in range(max(n_topics, 0)):
            (length,) = _INT16.unpack_from(buffer, pos)
            pos += 2
            topic = None
            if length >= 0:
                if pos + length > end:
                    raise ValueError("Buffer underrun decoding string")
                topic = buffer[pos : pos + length].decode()
                pos += length
            (n_partitions,) = _INT32.unpack_from(buffer, pos)
            pos += 4
            partitions: list[tuple[Any, ...]] = []
            for _ in range(max(n_partitions, 0)):
                head = _PARTITION_HEAD.unpack_from(buffer, pos)
                pos += _PARTITION_HEAD.size
                (n_aborted,) = _INT32.unpack_from(buffer, pos)
                pos += 4
                aborted = [_ABORTED.unpack_from(buffer, pos + i * _ABORTED.size) for i in range(max(n_aborted, 0))]
                pos += len(aborted) * _ABORTED.size
                preferred, size = _PARTITION_TAIL.unpack_from(buffer, pos)
                pos += _PARTITION_TAIL.size
                records = None
                if size >= 0:
                    if pos + size > end:
                        raise ValueError("Buffer underrun decoding Bytes")
                    records = buffer[pos : pos + size]
                    pos += size
                partitions.append((*head, aborted if n_aborted >= 0 else None, preferred, records))
            topics.append((topic, partitions if n_partitions >= 0 else None))
    except struct.error as exc:
        raise ValueError(f"Buffer underrun decoding a fetch answer: {exc}") from None
    stream.seek(pos)
    return FetchResponse_v11(throttle, error, session, topics if n_topics >= 0 else None)


def _decode(cls: type[FetchResponse_v11], data: BytesIO | bytes) -> FetchResponse_v11:
    return decode_fetch_response_v11(data)


def install() -> None:
    """Use these functions for every fetch request and answer of version 11 in this process."""
    FetchRequest_v11.encode = encode_fetch_request_v11  # type: ignore[method-assign]
    FetchResponse_v11.decode = classmethod(_decode)  # type: ignore[method-assign,assignment]


def original_encode(request: FetchRequest_v11) -> bytes:
    """aiokafka's own encoding (the reference the contract tests compare with)."""
    result: bytes = _AIOKAFKA_ENCODE(request)
    return result


def original_decode(data: bytes) -> FetchResponse_v11:
    """aiokafka's own decoding (the reference the contract tests compare with)."""
    result: FetchResponse_v11 = _AIOKAFKA_DECODE(BytesIO(data))
    return result
