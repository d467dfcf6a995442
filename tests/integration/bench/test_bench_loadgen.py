"""The load generator as the harness runs it: a separate process against a running simulator.

No Kafka, no LiteLLM: the simulator of ``tests/conftest.py`` is the only server. Counts are tiny and
nothing is timed; the tests check what the load generator prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.cells import run_loadgen
from bench.procstat import ProcessSampler
from bench.workload import System, target_id, write_targets

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def targets(tmp_path: Path, simulator_url: str) -> Path:
    path = tmp_path / "targets.json"
    write_targets(path, [System("direct", f"{simulator_url}/v1", "sim-key", direct=True)], (0, 5))
    return path


def loadgen(targets: Path, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--targets", str(targets), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def result_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    assert [e["event"] for e in events] == ["ready", "window_start", "window_end", "result"]
    return events[-1]


@pytest.mark.parametrize("client", ["raw", "httpx"])
def test_sequential_rounds_alternate_targets(targets: Path, client: str) -> None:
    ids = [target_id("direct", 0, False), target_id("direct", 5, False), target_id("direct", 0, True)]
    args = ["--mode", "sequential", "--rounds", "4", "--warmup-rounds", "1", "--client", client]
    result = result_of(loadgen(targets, *args, *(a for i in ids for a in ("--target", i))))
    assert (result["mode"], result["client"], result["rounds"]) == ("sequential", client, 4)
    assert result["loop"] in ("uvloop", "asyncio")
    assert set(result["targets"]) == set(ids)
    for name, data in result["targets"].items():
        assert data["errors"] == 0, data["error_kinds"]
        assert len(data["latency_ms"]) == 4
        assert all(v > 0 for v in data["latency_ms"])
        if name.endswith("/stream"):
            assert all(0 < t <= total for t, total in zip(data["ttft_ms"], data["latency_ms"], strict=True))
        else:
            assert data["ttft_ms"] == [None] * 4


@pytest.mark.parametrize("client", ["raw", "httpx"])
def test_closed_loop(targets: Path, client: str) -> None:
    args = ["--mode", "closed", "--target", target_id("direct", 5, True), "--concurrency", "4"]
    result = result_of(loadgen(targets, *args, "--duration", "0.5", "--warmup", "0.1", "--client", client))
    assert result["concurrency"] == 4
    assert result["errors"] == 0, result["error_kinds"]
    assert result["ok"] == len(result["latency_ms"]) == len(result["ttft_ms"]) > 0
    assert result["throughput_rps"] > 0
    assert result["window_s"] > 0


def test_open_loop(targets: Path) -> None:
    args = ["--mode", "open", "--target", target_id("direct", 0, False), "--rate", "40"]
    result = result_of(loadgen(targets, *args, "--duration", "0.5", "--warmup", "0.1"))
    assert result["rate"] == 40.0
    assert result["scheduled"] == 20
    assert result["sent"] + result["missed_sends"] == result["scheduled"]
    assert result["ok"] + result["errors"] == result["sent"]
    assert len(result["send_lag_ms"]) == result["scheduled"]
    assert len(result["service_ms"]) == result["ok"]
    assert result["errors"] == 0


def test_a_dead_target_is_counted_as_errors(tmp_path: Path) -> None:
    path = tmp_path / "targets.json"
    write_targets(path, [System("nowhere", "http://127.0.0.1:9/v1", "k")], (0,))
    args = ["--mode", "sequential", "--target", target_id("nowhere", 0, False), "--rounds", "2", "--warmup-rounds", "0"]
    result = result_of(loadgen(path, *args, "--timeout", "5"))
    data = result["targets"][target_id("nowhere", 0, False)]
    assert data["errors"] == 2
    assert data["latency_ms"] == [None, None]


def test_unknown_target_is_refused(targets: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "--targets", str(targets), "--mode", "closed", "--target", "x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown targets" in done.stderr


def test_the_harness_reads_cpu_at_the_window_edges(targets: Path, tmp_path: Path) -> None:
    sampler = ProcessSampler()
    sampler.watch("tests", os.getpid())
    cell = run_loadgen(
        [
            "--targets",
            str(targets),
            "--mode",
            "closed",
            "--target",
            target_id("direct", 0, False),
            "--concurrency",
            "2",
            "--duration",
            "0.3",
            "--warmup",
            "0.05",
        ],
        sampler=sampler,
        cwd=ROOT,
        log=tmp_path / "loadgen.log",
        timeout_s=60,
    )
    assert cell.result["mode"] == "closed"
    assert set(cell.cpu_s) == {"tests"}
    assert cell.cpu_s["tests"] >= 0
    assert cell.machine_busy is not None and 0 <= cell.machine_busy <= 1


@pytest.mark.parametrize("client", ["raw", "httpx"])
def test_open_loop_samples_every_measured_send(targets: Path, client: str) -> None:
    args = ["--mode", "open", "--target", target_id("direct", 0, False), "--rate", "40", "--client", client]
    result = result_of(loadgen(targets, *args, "--duration", "0.5", "--warmup", "0.1", "--samples"))
    samples = result["samples"]
    assert len(samples) == result["scheduled"] == 20
    assert [row[0] for row in samples] == [pytest.approx(i / 40) for i in range(20)]
    good = [row for row in samples if row[1] is not None]
    assert len(good) == result["ok"] == 20
    assert all(row[2] is None for row in good)
    assert all(str(row[3]).startswith("req_") for row in good)  # the simulator's x-request-id
    assert sorted(row[1] for row in good) == sorted(result["latency_ms"])


def test_without_samples_the_result_has_none(targets: Path) -> None:
    args = ["--mode", "open", "--target", target_id("direct", 0, False), "--rate", "40"]
    assert "samples" not in result_of(loadgen(targets, *args, "--duration", "0.2", "--warmup", "0"))
