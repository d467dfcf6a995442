"""streams.kafka_wire against aiokafka's own code: the same bytes for a fetch request (v11), the same
objects from a fetch answer, on generated messages; a cut answer is refused as aiokafka refuses it."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from aiokafka.protocol.fetch import FetchRequest, FetchRequest_v11, FetchResponse_v11

from streams.kafka_wire import decode_fetch_response_v11, encode_fetch_request_v11, original_decode, original_encode

V11 = {FetchRequest.API_KEY: (0, 11)}
NAMES = ["turnout.requests", "t.stage.cache", "bench-stages-breakers-changelog", "ünïcode.tōpic", "x"]


def request_struct(rng: random.Random) -> FetchRequest_v11:
    topics = [
        (
            rng.choice(NAMES) + str(i),
            [(p, rng.randrange(0, 2**40), rng.randrange(1, 2**20)) for p in range(rng.randrange(0, 4))],
        )
        for i in range(rng.randrange(0, 12))
    ]
    request = FetchRequest(
        rng.randrange(0, 2000),
        rng.randrange(1, 100),
        52428800,
        rng.randrange(0, 2),
        topics,
        rack_id=rng.choice(["", "r1"]),
    )
    struct = request.prepare(V11)
    assert isinstance(struct, FetchRequest_v11)
    return struct


def answer_bytes(rng: random.Random) -> bytes:
    def partition(p: int) -> tuple[object, ...]:
        aborted = rng.choice(
            [None, [], [(rng.randrange(2**40), rng.randrange(2**40)) for _ in range(rng.randrange(1, 3))]]
        )
        records = rng.choice([None, b"", rng.randbytes(rng.randrange(1, 5000))])
        offsets = [rng.randrange(-1, 2**50) for _ in range(3)]
        return (p, rng.choice([0, 0, 1, 6]), *offsets, aborted, rng.choice([-1, 0, 2]), records)

    topics = rng.choice(
        [
            None,
            [
                (rng.choice([*NAMES, None]), rng.choice([None, [partition(p) for p in range(rng.randrange(0, 4))]]))
                for _ in range(rng.randrange(0, 12))
            ],
        ]
    )
    return FetchResponse_v11(rng.randrange(0, 100), rng.choice([0, 0, 7]), rng.randrange(0, 2**31), topics).encode()


@pytest.mark.parametrize("seed", range(200))
def test_a_fetch_request_is_written_as_aiokafka_writes_it(seed: int) -> None:
    struct = request_struct(random.Random(seed))
    assert encode_fetch_request_v11(struct) == original_encode(struct)


def test_a_request_with_forgotten_topics_is_written_as_aiokafka_writes_it() -> None:
    struct = request_struct(random.Random(1))
    struct.__dict__["forgotten_topics_data"] = [("gone", [0, 3]), ("also.gone", [])]
    assert encode_fetch_request_v11(struct) == original_encode(struct)


@pytest.mark.parametrize("seed", range(300))
def test_a_fetch_answer_is_read_as_aiokafka_reads_it(seed: int) -> None:
    data = answer_bytes(random.Random(seed))
    ours = decode_fetch_response_v11(BytesIO(data))
    assert ours == original_decode(data)
    assert ours.topics == original_decode(data).topics  # the nested lists and tuples themselves


def test_an_answer_is_read_from_the_stream_s_position_to_its_end() -> None:
    data = answer_bytes(random.Random(7))
    stream = BytesIO(b"HEAD" + data + b"TAIL")
    stream.seek(4)  # aiokafka reads the response header first
    decoded = decode_fetch_response_v11(stream)
    assert decoded == original_decode(data)
    assert stream.read() == b"TAIL"


@pytest.mark.parametrize("cut", [1, 9, 20, 60, 200])
def test_a_cut_answer_is_refused(cut: int) -> None:
    data = answer_bytes(random.Random(3))
    assert len(data) > 300
    with pytest.raises((ValueError,)):
        decode_fetch_response_v11(data[: len(data) - cut])
