"""Providers that never finish: a stream that never ends and one that trickles. Each request is cut at
its deadline with a clear error after the chunks already sent, nothing hangs, and the worker's memory
is reported before and after (a measurement, printed; the bound asserted is the deadline)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.stack import Stack

RUN = uuid.uuid4().hex[:6]
TIMEOUT_S = 4.0
STREAMS = 12


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    deployments = {
        "sim-endless": {"provider": "simulator", "model": f"endless-{RUN}"},
        "sim-trickle": {"provider": "simulator", "model": f"trickle-{RUN}"},
    }
    models = {"endless-chat": {"deployments": ["sim-endless"]}, "trickle-chat": {"deployments": ["sim-trickle"]}}
    with running_stack(
        make_config, workers=1, deployments=deployments, models=models, gateway={"request_timeout_s": TIMEOUT_S}
    ) as run:
        stack = run[0]
        for model, knobs in (
            (f"endless-{RUN}", {"endless": True, "chunk_interval_ms": 10}),
            (f"trickle-{RUN}", {"chunk_interval_ms": 1500}),
        ):
            httpx.post(
                f"{stack.simulator_url}/_sim/faults", json={"model": model, "knobs": knobs, "times": None}
            ).raise_for_status()
        yield run


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def _stream(client: openai.AsyncOpenAI, model: str) -> tuple[int, str, float]:
    started = time.monotonic()
    chunks, outcome = 0, "ended"
    try:
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "tell me a story that never ends"}], stream=True
        )
        async for chunk in stream:
            chunks += bool(chunk.choices and chunk.choices[0].delta.content)
    except openai.APIError as exc:
        outcome = f"error: {type(exc).__name__}"
    return chunks, outcome, time.monotonic() - started


@pytest.mark.parametrize("model", ["endless-chat", "trickle-chat"])
def test_a_stream_that_does_not_finish_is_cut_at_the_deadline(gateway: tuple[Stack, TurnoutConfig], model: str) -> None:
    stack, _ = gateway
    worker = stack.processes["worker-0"].pid
    before = _rss_mb(worker)

    async def run() -> list[tuple[int, str, float]]:
        client = openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-turnout-demo", max_retries=0, timeout=30)
        try:
            return await asyncio.gather(*(_stream(client, model) for _ in range(STREAMS)))
        finally:
            await client.close()

    results = asyncio.run(run())
    after = _rss_mb(worker)
    assert all(outcome.startswith("error") for _, outcome, _ in results), results  # never a clean end
    if model == "endless-chat":  # the chunks before the cut reached the client; a trickle of a few words
        assert all(chunks >= 1 for chunks, _, _ in results)  # stays inside the output guard's window: a 504
    assert max(elapsed for _, _, elapsed in results) < TIMEOUT_S + 3  # bounded by the deadline, not the provider
    print(
        f"{model}: {STREAMS} streams cut at the {TIMEOUT_S:g} s deadline after "
        f"{min(c for c, _, _ in results)}-{max(c for c, _, _ in results)} chunks; "
        f"worker RSS {before:.0f} -> {after:.0f} MB"
    )
