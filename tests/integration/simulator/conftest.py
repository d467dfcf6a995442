"""Fixtures running the real simulator server (uvicorn, ephemeral port) for integration tests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from simulator import RunningSimulator, start_in_thread

HEALTH_DEADLINE_S = 10.0


def wait_healthy(base_url: str, deadline_s: float = HEALTH_DEADLINE_S) -> None:
    """Poll ``/healthz`` until it answers 200 or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as exc:
            last_error = exc
        time.sleep(0.02)
    raise RuntimeError(f"simulator at {base_url} not healthy in {deadline_s}s: {last_error}")


@pytest.fixture(scope="session")
def sim_server() -> Iterator[RunningSimulator]:
    running = start_in_thread(port=0)
    try:
        wait_healthy(running.base_url)
        yield running
    finally:
        running.stop()


@pytest.fixture()
def sim_url(sim_server: RunningSimulator) -> str:
    """Base URL of a simulator whose stats and fault rules were just reset."""
    httpx.post(f"{sim_server.base_url}/_sim/reset", timeout=5.0).raise_for_status()
    return sim_server.base_url


@pytest.fixture()
def client(sim_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim_url, timeout=10.0) as http:
        yield http


@pytest.fixture()
def sdk(sim_url: str) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK pointed at the simulator, with retries off."""
    with openai.OpenAI(base_url=f"{sim_url}/v1", api_key="x", max_retries=0, timeout=10.0) as oai:
        yield oai
