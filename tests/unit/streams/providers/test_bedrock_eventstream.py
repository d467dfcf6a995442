"""``EventStreamDecoder``: AWS event-stream frames, however they are split, -> verified messages.

The byte vectors below are AWS's own (botocore's decoder test vectors: an empty message, every
header value type, a payload with a string header, an ``error`` message); botocore's decoder is
also run on the same bytes as an independent cross-check.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.eventstream import EventStreamBuffer

from schemas.errors import ProviderStreamBroken
from simulator.eventstream_encoder import Byte, HeaderInput, Int16, Int32, Int64, encode_message
from streams.providers.eventstream import (
    MAX_HEADERS_LENGTH,
    MAX_PAYLOAD_LENGTH,
    EventStreamDecoder,
    EventStreamMessage,
    decode_headers,
)

EMPTY_MESSAGE = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff"
PAYLOAD_ONE_STR_HEADER = (
    b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
    b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
)
ALL_HEADER_TYPES = (
    b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c"
    b"\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03"
    b"\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05"
    b"\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8"
    b"\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdef"
    b"\x63\x35\x36\x71"
)
ERROR_MESSAGE = (
    b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
    b"\x0d:message-type\x07\x00\x05error"
    b"\x0b:error-code\x07\x00\x04code"
    b"\x0e:error-message\x07\x00\x07message"
    b"\x6b\x6c\xea\x3d"
)
FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "providers" / "bedrock"


def decode_all(data: bytes, piece: int | None = None) -> list[EventStreamMessage]:
    decoder = EventStreamDecoder()
    size = piece or len(data) or 1
    messages = [m for i in range(0, len(data), size) for m in decoder.feed(data[i : i + size])]
    assert decoder.pending == 0
    return messages


def botocore_decode(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(dict(m.headers), m.payload) for m in buffer]


def test_aws_vectors_decode() -> None:
    assert decode_all(EMPTY_MESSAGE) == [EventStreamMessage({}, b"")]
    assert decode_all(PAYLOAD_ONE_STR_HEADER) == [
        EventStreamMessage({"content-type": "application/json"}, b"{'foo':'bar'}")
    ]
    assert decode_all(ERROR_MESSAGE)[0].headers == {
        ":message-type": "error",
        ":error-code": "code",
        ":error-message": "message",
    }


def test_every_header_value_type() -> None:
    [message] = decode_all(ALL_HEADER_TYPES)
    assert message.headers == {
        "0": True,
        "1": False,
        "2": 2,
        "3": 3,
        "4": 4,
        "5": 5,
        "6": b"bytes",
        "7": "utf8",
        "8": datetime(1970, 1, 1, 0, 0, 0, 8000, tzinfo=UTC),
        "9": uuid.UUID(bytes=b"0123456789abcdef"),
    }


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 13])
def test_frames_split_at_any_byte(piece: int) -> None:
    stream = EMPTY_MESSAGE + PAYLOAD_ONE_STR_HEADER + ALL_HEADER_TYPES + ERROR_MESSAGE
    assert decode_all(stream, piece) == decode_all(stream)
    assert len(decode_all(stream, piece)) == 4


def test_a_partial_frame_stays_pending() -> None:
    decoder = EventStreamDecoder()
    assert decoder.feed(PAYLOAD_ONE_STR_HEADER[:20]) == []
    assert decoder.pending == 20
    assert len(decoder.feed(PAYLOAD_ONE_STR_HEADER[20:])) == 1
    assert decoder.pending == 0


def _with_prelude(total: int, headers_length: int, rest: bytes = b"") -> bytes:
    prelude = struct.pack(">II", total, headers_length)
    return prelude + struct.pack(">I", zlib.crc32(prelude)) + rest


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x01" + EMPTY_MESSAGE[1:], "prelude CRC"),  # corrupted total length
        (PAYLOAD_ONE_STR_HEADER.replace(b"content-type", b"content+type"), "message CRC"),
        (PAYLOAD_ONE_STR_HEADER[:-1] + b"\x00", "message CRC"),
        (_with_prelude(8, 0), "impossible lengths"),
        (_with_prelude(20, 10), "impossible lengths"),
        (_with_prelude(16 + MAX_HEADERS_LENGTH + 1, MAX_HEADERS_LENGTH + 1), "too large"),
        (_with_prelude(16 + MAX_PAYLOAD_LENGTH + 1, 0), "too large"),
        (_with_prelude(0xFFFFFFFF, 0), "too large"),
    ],
)
def test_corrupt_frames_are_broken_streams(data: bytes, why: str) -> None:
    with pytest.raises(ProviderStreamBroken):
        decode_all(data, 5)


@pytest.mark.parametrize(
    "headers",
    [
        b"\x04test\x07\x00\x04asdf\x04test\x07\x00\x04asdf",  # duplicate name
        b"\x04test\x07\x00\x09asdf",  # string runs past the block
        b"\x04test\x0a\x00",  # unknown value type 10
        b"\x04te",  # name cut short
        b"\x00\x07\x00\x01a",  # empty name
        b"\x04test\x07\x00\x02\xff\xfe",  # not UTF-8
        b"\x04test\x05\x00\x00",  # int64 cut short
    ],
)
def test_malformed_headers_are_broken_streams(headers: bytes) -> None:
    with pytest.raises(ProviderStreamBroken):
        decode_headers(headers)


def test_decoder_agrees_with_botocore_on_encoder_output() -> None:
    """The simulator's encoder, AWS's decoder and Turnout's decoder read the same frames alike."""
    at = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers: list[tuple[str, HeaderInput]] = [
        ("t", True),
        ("f", False),
        ("b", Byte(-7)),
        ("s", Int16(-300)),
        ("i", Int32(70000)),
        ("l", Int64(-(2**40))),
        ("raw", b"\x00\x01\xff"),
        (":event-type", "contentBlockDelta"),
        ("when", at),
        ("id", ident),
    ]
    frame = encode_message(headers, b'{"delta":{"text":"h\xc3\xa9"}}')
    [(boto_headers, boto_payload)] = botocore_decode(frame)
    [ours] = decode_all(frame, 3)
    assert ours.payload == boto_payload == b'{"delta":{"text":"h\xc3\xa9"}}'
    assert ours.headers == dict(
        t=True,
        f=False,
        b=-7,
        s=-300,
        i=70000,
        l=-(2**40),
        raw=b"\x00\x01\xff",
        when=at,
        id=ident,
        **{":event-type": "contentBlockDelta"},
    )
    # botocore keeps timestamps as epoch milliseconds and uuids as bytes
    assert boto_headers == {
        **{name: value for name, value in ours.headers.items() if name not in ("when", "id")},
        "when": int(at.timestamp() * 1000),
        "id": ident.bytes,
    }


@pytest.mark.parametrize("case", ["stream_text", "stream_tool_call", "stream_json_schema", "stream_unknown_event"])
def test_fixture_frames_agree_with_botocore(case: str) -> None:
    data = (FIXTURES / case / "provider_response.bin").read_bytes()
    ours = [(m.headers, m.payload) for m in decode_all(data, 11)]
    assert ours == botocore_decode(data)
    assert all(h[":message-type"] == "event" for h, _ in ours)
