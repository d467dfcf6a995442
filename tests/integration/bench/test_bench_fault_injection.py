"""The fault scenario's mechanics against a running simulator: the rule is on for the middle third only.

No Kafka and no Turnout: the load generator calls the simulator's primary model directly, so the
middle third's requests fail with the injected 503 and the others succeed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from bench.cells import run_loadgen
from bench.fault import FaultInjector, Sample, primary_upstream, split_thirds
from bench.procstat import ProcessSampler
from bench.workload import System, chat_body, write_targets

ROOT = Path(__file__).resolve().parents[3]
THIRD_S = 0.6
RATE = 40


def test_the_primary_fails_in_the_middle_third_only(tmp_path: Path, simulator_url: str) -> None:
    path = tmp_path / "targets.json"
    target = "direct@5ms/primary"
    entry = {
        "url": f"{simulator_url}/v1/chat/completions",
        "headers": {"Authorization": "Bearer sim-key"},
        "body": json.dumps(chat_body(primary_upstream(5), False)),
        "stream": False,
    }
    write_targets(path, [System("direct", f"{simulator_url}/v1", "sim-key", direct=True)], (5,), {target: entry})
    injector = FaultInjector(simulator_url, 5, THIRD_S)
    args = ["--targets", str(path), "--mode", "open", "--target", target, "--rate", str(RATE)]
    try:
        cell = run_loadgen(
            [*args, "--duration", str(3 * THIRD_S), "--warmup", "0.1", "--drain", "5", "--samples"],
            sampler=ProcessSampler(),
            cwd=ROOT,
            log=tmp_path / "loadgen.log",
            timeout_s=60,
            on_event=injector.on_event,
        )
    finally:
        injector.finish()
    assert injector.errors == []
    assert injector.fault_on_s is not None and injector.fault_off_s is not None
    assert THIRD_S <= injector.fault_on_s < injector.fault_off_s
    assert injector.fault_off_s >= 2 * THIRD_S
    assert httpx.get(f"{simulator_url}/_sim/faults").json() == {"rules": []}  # nothing left behind

    samples = sorted((Sample.from_row(row) for row in cell.result["samples"]), key=lambda s: s.offset_s)
    assert len(samples) == cell.result["scheduled"] == round(3 * THIRD_S * RATE)
    before, fault, after = split_thirds(samples, 3 * THIRD_S)
    assert len(before) == len(fault) == len(after) == round(THIRD_S * RATE)
    # The rule is on once: its 503s are one run of consecutive sends, and none comes before the
    # middle third (the injector counts a third from when it saw the window open, which is after the
    # load generator opened it). A send close to the boundary may land on either side.
    failed = [i for i, s in enumerate(samples) if not s.ok]
    assert failed, "no request failed while the rule was on"
    assert {samples[i].error for i in failed} == {"http_503"}, [s.error for s in samples]
    assert failed == list(range(failed[0], failed[-1] + 1)), [s.error for s in samples]
    assert samples[failed[0]].offset_s >= THIRD_S - 2 / RATE
    assert sum(s.ok for s in before) >= len(before) - 2
    # as many as were sent while it was on, timed by the clock that put it on and took it off (how
    # late the rule came on a loaded machine moves the run, not its length)
    on_s = injector.fault_off_s - injector.fault_on_s
    assert abs(len(failed) - on_s * RATE) <= 4, (len(failed), on_s)


def test_finish_clears_the_rule_when_the_run_ends_early(simulator_url: str) -> None:
    injector = FaultInjector(simulator_url, 5, 1.0)
    injector.on_event("window_start")
    deadline = time.monotonic() + 10
    while injector.fault_on_s is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert injector.fault_on_s is not None
    assert httpx.get(f"{simulator_url}/_sim/faults").json()["rules"][0]["model"] == primary_upstream(5)
    injector.finish()  # long before the two-thirds mark
    assert injector.fault_off_s is not None and injector.fault_off_s < 2.0
    assert httpx.get(f"{simulator_url}/_sim/faults").json() == {"rules": []}
