"""A decoder for AWS event streams (``application/vnd.amazon.eventstream``), the binary framing of
Bedrock's ``ConverseStream`` replies.

Written from AWS's published description of the encoding ("Event stream encoding", Amazon Lex V2
and Amazon Transcribe developer guides; the Smithy event-stream header value types):

    message = prelude | prelude CRC | headers | payload | message CRC
    prelude = total length (uint32 BE, the whole message) | headers length (uint32 BE)

Both CRCs are CRC-32 (the gzip/zlib polynomial): the prelude CRC covers the 8 prelude bytes, the
message CRC every byte before it. A header is ``name length (uint8) | name (UTF-8) | value type
(uint8) | value``; the value types are

    0 true, 1 false (no value bytes), 2 byte (int8), 3 short (int16), 4 integer (int32),
    5 long (int64), 6 byte array (uint16 length + bytes), 7 string (uint16 length + UTF-8),
    8 timestamp (int64 milliseconds since the epoch), 9 uuid (16 bytes)

A message may arrive cut at any byte; :class:`EventStreamDecoder` buffers until it is whole. A
CRC mismatch, a truncated or malformed header, a duplicate header name or an absurd length raises
``ProviderStreamBroken``: nothing after a bad frame can be trusted. The size limits are those of
AWS's own decoder (botocore: headers at most 128 KiB, payload at most 24 MiB).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.errors import ProviderStreamBroken

__all__ = [
    "MAX_HEADERS_LENGTH",
    "MAX_PAYLOAD_LENGTH",
    "EventStreamDecoder",
    "EventStreamMessage",
    "HeaderValue",
    "decode_headers",
]

PRELUDE_LENGTH = 12  # total length, headers length, prelude CRC
MESSAGE_OVERHEAD = PRELUDE_LENGTH + 4  # plus the message CRC
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024

HeaderValue = bool | int | bytes | str | datetime | uuid.UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# value type -> (struct format of a fixed-width value, its width); 6 and 7 are length-prefixed
_FIXED: dict[int, tuple[str, int]] = {2: (">b", 1), 3: (">h", 2), 4: (">i", 4), 5: (">q", 8), 8: (">q", 8)}


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    headers: dict[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    def header_text(self, name: str) -> str | None:
        """A string header's value (None when absent or of another type)."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None


class _Cursor:
    """Reads a headers block front to back; running past its end is a broken frame."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProviderStreamBroken("An event-stream header runs past the end of its headers block.")
        piece = self.data[self.pos : self.pos + n]
        self.pos += n
        return piece

    def unpack(self, fmt: str, width: int) -> int:
        value: int = struct.unpack(fmt, self.take(width))[0]
        return value


def _header_value(cursor: _Cursor, kind: int) -> HeaderValue:
    if kind in (0, 1):
        return kind == 0
    if kind in _FIXED:
        fmt, width = _FIXED[kind]
        number = cursor.unpack(fmt, width)
        return _EPOCH + timedelta(milliseconds=number) if kind == 8 else number
    if kind in (6, 7):
        raw = cursor.take(cursor.unpack(">H", 2))
        if kind == 6:
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderStreamBroken("An event-stream string header is not UTF-8.") from None
    if kind == 9:
        return uuid.UUID(bytes=cursor.take(16))
    raise ProviderStreamBroken(f"An event-stream header has an unknown value type {kind}.")


def decode_headers(data: bytes) -> dict[str, HeaderValue]:
    """The headers block of one message -> name to typed value."""
    cursor = _Cursor(data)
    headers: dict[str, HeaderValue] = {}
    while cursor.pos < len(data):
        name_raw = cursor.take(cursor.unpack(">B", 1))
        try:
            name = name_raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ProviderStreamBroken("An event-stream header name is not UTF-8.") from None
        if not name:
            raise ProviderStreamBroken("An event-stream header has an empty name.")
        if name in headers:
            raise ProviderStreamBroken(f"The event-stream header {name!r} appears twice in one message.")
        headers[name] = _header_value(cursor, cursor.unpack(">B", 1))
    return headers


class EventStreamDecoder:
    """Turns bytes, split anywhere, into whole verified messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._total: int | None = None  # the current message's length, once its prelude checked out

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole message (non-zero at the end: a cut frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        self._buffer += data
        messages: list[EventStreamMessage] = []
        while True:
            if self._total is None:
                if len(self._buffer) < PRELUDE_LENGTH:
                    return messages
                self._total = self._check_prelude(bytes(self._buffer[:PRELUDE_LENGTH]))
            if len(self._buffer) < self._total:
                return messages
            frame = bytes(self._buffer[: self._total])
            del self._buffer[: self._total]
            self._total = None
            messages.append(self._decode(frame))

    @staticmethod
    def _check_prelude(prelude: bytes) -> int:
        total, headers_length, crc = struct.unpack(">III", prelude)
        if zlib.crc32(prelude[:8]) != crc:
            raise ProviderStreamBroken("An event-stream prelude failed its CRC check.")
        if total < MESSAGE_OVERHEAD or headers_length > total - MESSAGE_OVERHEAD:
            raise ProviderStreamBroken(f"An event-stream message has impossible lengths ({total}, {headers_length}).")
        if headers_length > MAX_HEADERS_LENGTH or total - MESSAGE_OVERHEAD - headers_length > MAX_PAYLOAD_LENGTH:
            raise ProviderStreamBroken(f"An event-stream message is too large ({total} bytes).")
        return int(total)

    @staticmethod
    def _decode(frame: bytes) -> EventStreamMessage:
        (expected,) = struct.unpack(">I", frame[-4:])
        if zlib.crc32(frame[:-4]) != expected:
            raise ProviderStreamBroken("An event-stream message failed its CRC check.")
        (headers_length,) = struct.unpack(">I", frame[4:8])
        headers_end = PRELUDE_LENGTH + headers_length
        return EventStreamMessage(decode_headers(frame[PRELUDE_LENGTH:headers_end]), frame[headers_end:-4])
