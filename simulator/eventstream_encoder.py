"""An encoder for AWS event-stream messages (``application/vnd.amazon.eventstream``).

The framing, from AWS's "Event stream encoding" description: total length and headers length
(uint32 big-endian each), a CRC-32 of those 8 bytes, the headers, the payload, and a CRC-32 of
everything before it. Header values are typed (see :func:`encode_header`). Written separately from
the gateway's decoder (``streams.providers.eventstream``) so the two check each other; the tests
also check both against AWS's own decoder (botocore).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Byte", "HeaderInput", "Int16", "Int32", "Int64", "encode_header", "encode_message"]


@dataclass(frozen=True, slots=True)
class Byte:
    value: int


@dataclass(frozen=True, slots=True)
class Int16:
    value: int


@dataclass(frozen=True, slots=True)
class Int32:
    value: int


@dataclass(frozen=True, slots=True)
class Int64:
    value: int


HeaderInput = bool | Byte | Int16 | Int32 | Int64 | bytes | str | datetime | uuid.UUID

_SIZED: dict[type, tuple[int, str]] = {Byte: (2, ">b"), Int16: (3, ">h"), Int32: (4, ">i"), Int64: (5, ">q")}


def _value_bytes(value: HeaderInput) -> bytes:
    if isinstance(value, bool):
        return bytes([0 if value else 1])
    if isinstance(value, Byte | Int16 | Int32 | Int64):
        kind, fmt = _SIZED[type(value)]
        return bytes([kind]) + struct.pack(fmt, value.value)
    if isinstance(value, bytes):
        return b"\x06" + struct.pack(">H", len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"\x07" + struct.pack(">H", len(raw)) + raw
    if isinstance(value, datetime):
        return b"\x08" + struct.pack(">q", round(value.timestamp() * 1000))
    if isinstance(value, uuid.UUID):
        return b"\x09" + value.bytes
    raise TypeError(f"cannot encode an event-stream header value of type {type(value).__name__}")


def encode_header(name: str, value: HeaderInput) -> bytes:
    """One header: a ``str`` is type 7, ``bytes`` 6, ``bool`` 0/1, ``datetime`` 8, ``UUID`` 9;
    integers say their width with :class:`Byte` (2), :class:`Int16` (3), :class:`Int32` (4) or
    :class:`Int64` (5)."""
    raw_name = name.encode("utf-8")
    return bytes([len(raw_name)]) + raw_name + _value_bytes(value)


def encode_message(headers: Iterable[tuple[str, HeaderInput]], payload: bytes = b"") -> bytes:
    """One whole message with both CRCs."""
    header_block = b"".join(encode_header(name, value) for name, value in headers)
    total = 16 + len(header_block) + len(payload)
    prelude = struct.pack(">II", total, len(header_block))
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    body = head + header_block + payload
    return body + struct.pack(">I", zlib.crc32(body))
