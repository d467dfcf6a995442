"""The codec's cost per event: fastavro's writer and reader beside the generated ones (``schemas.binary``).

    python -m bench.codec [--rounds 20000]

Encodes and decodes the events a request sends through Kafka (the hand-written samples of
``tests/contract/test_event_codec.py``: a ReplyEvent with its response and error, an AttemptEvent,
a UsageEvent, a RequestRecord, a RequestEvent and a StageEvent), each ``--rounds`` times, and
prints microseconds per event for both paths, best of three. The two paths write the same bytes
(``tests/contract/test_binary_codec.py``). Not a benchmark cell: it explains the codec's share of
the CPU per request in ``python -m bench``.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from typing import Any

import fastavro

from schemas.codec import EventCodec, from_record, to_record


def _per_call_us(call: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            call()
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.codec", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args(argv)

    from tests.contract.test_event_codec import FULL

    codec = EventCodec()
    print(
        f"{'event':<15} {'bytes':>6} {'write: fastavro':>16} {'generated':>10} {'read: fastavro':>15} {'generated':>10}"
    )
    for event in [FULL[3], FULL[4], FULL[5], FULL[6], FULL[0], FULL[1]]:
        cls = type(event)
        schema = codec.schema_of(cls)
        data = codec.encode(event)

        def fastavro_write(event: Any = event, schema: Any = schema) -> bytes:
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, schema, to_record(event))
            return buf.getvalue()

        def generated_write(event: Any = event) -> bytes:
            return codec.encode(event)

        def generated_read(data: bytes = data) -> Any:
            return codec.decode(data)

        def fastavro_read(data: bytes = data, schema: Any = schema, cls: type = cls) -> Any:
            return from_record(cls, fastavro.schemaless_reader(io.BytesIO(data[10:]), schema, schema))

        figures = [
            _per_call_us(fastavro_write, args.rounds),
            _per_call_us(generated_write, args.rounds),
            _per_call_us(fastavro_read, args.rounds),
            _per_call_us(generated_read, args.rounds),
        ]
        print(
            f"{cls.__name__:<15} {len(data):>6} "
            + " ".join(f"{f:>{w}.1f}" for f, w in zip(figures, (16, 10, 15, 10), strict=True))
        )


if __name__ == "__main__":
    main()
