"""The simulator serves many concurrent connections without blocking."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

CONCURRENCY = 300
LATENCY_MS = 300
MESSAGES = [{"role": "user", "content": "hello concurrent world"}]


async def one_request(http: httpx.AsyncClient, stream: bool) -> str:
    body = {"model": "busy", "messages": MESSAGES, "stream": stream}
    headers = {"x-sim-latency-ms": str(LATENCY_MS)}
    if not stream:
        response = await http.post("/v1/chat/completions", json=body, headers=headers)
        content: str = response.json()["choices"][0]["message"]["content"]
        return content
    async with http.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return "streamed"


@pytest.mark.asyncio
async def test_hundreds_of_concurrent_delayed_requests(sim_url: str) -> None:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=sim_url, limits=limits, timeout=30.0) as http:
        hanging = asyncio.create_task(
            http.post(
                "/v1/chat/completions",
                json={"model": "sim-hang", "messages": MESSAGES},
                timeout=120.0,  # still hanging when the others are done, however slow the machine
            )
        )
        started = time.monotonic()
        results = await asyncio.gather(*(one_request(http, stream=i % 2 == 0) for i in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
        hanging.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hanging
    assert results.count("streamed") == CONCURRENCY // 2
    assert all(r == "streamed" or r.startswith("Simulated reply from busy") for r in results)
    # One after another this would take CONCURRENCY * LATENCY_MS = 90 s; the
    # bound is loose because the httpx client itself costs seconds here.
    assert elapsed < CONCURRENCY * LATENCY_MS / 1000 / 5
    stats = httpx.get(f"{sim_url}/_sim/stats").json()["models"]["busy"]
    assert stats["total"] == CONCURRENCY
    assert stats["streamed"] == CONCURRENCY // 2
