"""``bench/hop_trace``: a process started with it on its path logs aiokafka's produce and fetch
events, against the real broker (what ``python -m bench.hops --trace`` reads back)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from bench.hop_parts import read_trace
from tests.conftest import KAFKA
from turnout.kafka_admin import ensure_topics

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

async def main(bootstrap, topic):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        await (await producer.send(topic, b"one"))
        message = await asyncio.wait_for(consumer.getone(), 20)
        assert message.value == b"one"
    finally:
        await producer.stop()
        await consumer.stop()

asyncio.run(main(*sys.argv[1:]))
"""


def test_a_traced_process_logs_its_produce_and_the_fetch_that_brought_the_records(tmp_path: Path) -> None:
    topic = f"t{uuid.uuid4().hex[:10]}.traced"
    ensure_topics(KAFKA, [topic], 1)
    env = {
        **os.environ,
        "TURNOUT_HOP_TRACE": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench" / "hop_trace"), str(ROOT)]),
    }
    subprocess.run([sys.executable, "-c", SCRIPT, KAFKA, topic], env=env, check=True, timeout=60)
    events = read_trace(tmp_path)
    kinds = [e.kind for e in events]
    assert "produce-sent" in kinds
    records = kinds.index("fetch-records")
    assert "fetch-answer" in kinds[:records]  # the answer was read before it was taken apart
    assert len({e.pid for e in events}) == 1
