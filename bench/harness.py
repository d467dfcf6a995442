"""``turnout bench``: start everything, measure every cell, stop everything, write and print the results.

One run on this machine: the simulator; Turnout in the split and the fused layout (two stacks on the
same Kafka and Redis, each with its own topics); LiteLLM's proxy at each worker setting of the plan.
All of them stay up for the whole run, so cells can alternate between systems: the sequential runs
interleave every system with the direct call inside each round (every system running), and the
loop cells rotate the order of the systems from one cell (and one part of a cell) to the next.

An idle Turnout stack is not free (its Faust workers poll Kafka), and on a 2-core machine the CPU
it takes would be missing from the system under load. So during a loop cell the other Turnout
stacks' gateways and workers are frozen with SIGSTOP, and thawed and warmed up again before their
own cells. Turnout's sinks stay up (they hold a Kafka group whose session would expire), and so does
LiteLLM (idle, it uses next to no CPU; frozen, uvicorn's supervisor would kill its workers on thaw).
What the idle systems use anyway is reported with each cell (``other_systems_s``), and what each
process uses at rest is measured once (``idle``).

The fault scenario comes last (``bench/fault.py``): on each Turnout stack of the plan, an open loop
on a model whose primary deployment answers 503 during the middle third of the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from bench.cells import CellRun, LoadgenError, merge_loop_runs, run_loadgen
from bench.environment import machine_info, services_problem, versions
from bench.fault import (
    FaultInjector,
    Sample,
    fault_model,
    fault_records,
    fault_summary,
    fault_target,
    fault_target_id,
    scenario,
)
from bench.litellm_env import LiteLLMEnv
from bench.plan import METHOD, Plan, full_plan, quick_plan
from bench.procstat import ProcessSampler
from bench.report import render
from bench.results import (
    CpuAttribution,
    complete_document,
    loop_summary,
    sequential_summary,
    streaming_summary,
)
from bench.systems import (
    Running,
    answer_each_model,
    delete_topics,
    new_run_id,
    start_litellm,
    start_simulator,
    start_turnout,
)
from bench.workload import BODY_BYTES, System, chat_body, target_id, write_targets
from turnout.kafka_admin import wait_for_group
from turnout.stack import wait_until

__all__ = ["BenchOptions", "run_bench"]

SCHEMA = "turnout-bench/1"
SERVICES = {"kafka_s": "kafka", "redis_s": "redis", "simulator_s": "simulator"}
READY_TIMEOUT_S = 180.0
WARMUP_REQUESTS = 5
REWARM_REQUESTS = 3


@dataclass(frozen=True, slots=True)
class BenchOptions:
    root: Path
    out: Path
    quick: bool = False
    litellm: bool = True
    client: str | None = None
    open_rate: float | None = None
    litellm_workers: tuple[int, ...] | None = None
    turnout_workers: int | None = None
    partitions: int | None = None


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"bench [{time.monotonic() - _T0:6.1f} s]: {message}", flush=True)


def run_bench(options: BenchOptions) -> int:
    plan = (quick_plan() if options.quick else full_plan()).with_overrides(
        client=options.client,
        open_rate=options.open_rate,
        litellm_workers=options.litellm_workers,
        turnout_workers=options.turnout_workers,
        partitions=options.partitions,
    )
    if not options.litellm:
        plan = plan.with_overrides(litellm_workers=())
    root = options.root.resolve()
    base_config = yaml.safe_load((root / "config" / "turnout.yaml").read_text())
    problem = services_problem(base_config)
    if problem:
        print(f"bench: {problem}; run scripts/services.sh up (make bench does)", flush=True)
        return 2
    litellm_env = LiteLLMEnv(root / ".cache" / "bench" / "litellm-venv")
    if plan.litellm_workers:
        litellm_env.ensure(root / ".cache" / "bench" / "litellm-install.log")
    run = BenchRun(plan, root, litellm_env, base_config["kafka"]["bootstrap"])
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that `finally` stops every process
    try:
        document = run.execute()
    finally:
        signal.signal(signal.SIGTERM, previous)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    print(render(document), flush=True)
    log(f"results written to {options.out}")
    return 1 if document["failures"] else 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class BenchRun:
    """One benchmark run: owns the processes, the sampler and the cells measured so far."""

    def __init__(self, plan: Plan, root: Path, litellm_env: LiteLLMEnv, bootstrap: str) -> None:
        self.plan = plan
        self.root = root
        self.litellm_env = litellm_env
        self.bootstrap = bootstrap
        self.run_id = new_run_id()
        self.log_dir = root / ".run" / "bench" / "logs"
        self.sampler = ProcessSampler()
        self.running: list[Running] = []
        self.failures: list[str] = []
        self.cell_index = 0
        self.targets_file = Path()
        self.simulator_url = ""

    # ------------------------------------------------------------------ lifecycle

    def execute(self) -> dict[str, Any]:
        started_at = datetime.now(UTC)
        t0 = time.monotonic()
        shutil.rmtree(self.log_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True)
        tmp = Path(tempfile.mkdtemp(prefix="turnout-bench-"))
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "mode": self.plan.mode,
            "note": (
                "a smoke run with tiny counts: its figures are not results"
                if self.plan.mode == "quick"
                else "the reporting run"
            ),
            "started_at": started_at.isoformat(timespec="seconds"),
            "machine": machine_info(),
            "versions": versions(self.root, self.litellm_env.bin / "python" if self.plan.litellm_workers else None),
            "plan": {**self.plan.to_dict(), "body_bytes": BODY_BYTES},
            "run_id": self.run_id,
            "logs": str(self.log_dir),
            "method": METHOD,
        }
        try:
            self._start_all(tmp)
            document["systems"] = self._describe_systems()
            document["idle"] = self._idle()
            self._measure(tmp, document)
            usage = self.sampler.usage()
            document["resources"] = {name: u.to_dict() for name, u in usage.items()}
        finally:
            self.sampler.stop()
            for r in self.running:
                r.resume()
            self._stop_all()
            shutil.rmtree(tmp, ignore_errors=True)
        complete_document(document, self.systems, self.plan.delays_ms)
        document["warnings"] = self._warnings(document)
        document["failures"] = self.failures
        document["duration_s"] = round(time.monotonic() - t0, 1)
        document["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
        return document

    def _start_all(self, tmp: Path) -> None:
        log(f"run {self.run_id}: starting the simulator, Turnout (split, fused), LiteLLM {self.plan.litellm_workers}")
        simulator = start_simulator(self.log_dir)
        self.running.append(simulator)
        sim_url = self.simulator_url = simulator.system.base_url.removesuffix("/v1")
        fault_delay = self.plan.fault_delay_ms if self.plan.fault_systems else None
        for layout in ("split", "fused"):
            self.running.append(
                start_turnout(
                    layout,
                    root=self.root,
                    run_dir=tmp,
                    log_dir=self.log_dir,
                    simulator_url=sim_url,
                    delays_ms=self._all_delays(),
                    workers=self.plan.turnout_workers,
                    run_id=self.run_id,
                    partitions=self.plan.partitions,
                    fault_delay_ms=fault_delay,
                )
            )
        for workers in self.plan.litellm_workers:
            self.running.append(
                start_litellm(
                    workers,
                    env=self.litellm_env,
                    run_dir=tmp,
                    log_dir=self.log_dir,
                    simulator_url=sim_url,
                    delays_ms=self._all_delays(),
                )
            )
        started = time.monotonic()
        for r in self.running:
            r.wait_ready(READY_TIMEOUT_S)
        for r in self.running:
            if "consumer_group" in r.info:  # every worker in the group before the first request
                problem = wait_for_group(
                    self.bootstrap, str(r.info["consumer_group"]), int(r.info["workers"]), READY_TIMEOUT_S
                )
                if problem:
                    self.failures.append(f"{r.system.name}: {problem}")
                    log(f"{r.system.name}: {problem}")
        for r in self.running:
            answer_each_model(r.system, self._all_delays(), WARMUP_REQUESTS, READY_TIMEOUT_S)
        log(f"all systems ready and warmed up in {time.monotonic() - started:.1f} s")
        self._watch_processes()
        self.sampler.start()

    def _all_delays(self) -> tuple[int, ...]:
        p = self.plan
        return tuple(sorted({*p.delays_ms, *p.loop_delays_ms, *p.open_delays_ms, 0}))

    def _watch_processes(self) -> None:
        for r in self.running:
            for name, proc in r.processes.items():
                group = "simulator" if r.system.direct else f"{r.system.name}/{name}"
                self.sampler.watch(group, proc.pid, with_descendants=r.group_descendants)
        for service in ("kafka", "redis"):
            pid_file = self.root / ".run" / f"{service}.pid"
            try:
                self.sampler.watch(service, int(pid_file.read_text().strip()), with_descendants=True)
            except (OSError, ValueError):
                self.failures.append(f"no pid for {service} in {pid_file}: its CPU and memory are not reported")

    def _idle(self) -> dict[str, Any]:
        """CPU cores each process group uses with no load at all (everything running)."""
        seconds = self.plan.idle_s
        before = self.sampler.cpu_seconds()
        t0 = time.monotonic()
        time.sleep(seconds)
        after = self.sampler.cpu_seconds()
        elapsed = time.monotonic() - t0
        cores = {g: round((after[g] - before.get(g, 0.0)) / elapsed, 4) for g in after}
        log(f"idle CPU (cores) over {elapsed:.1f} s: {cores}")
        return {"seconds": round(elapsed, 1), "cores": cores}

    def _focus(self, name: str, delay: int) -> None:
        """Freeze every gateway but ``name``; thaw ``name`` and warm it up again if it was frozen."""
        for r in self.running:
            if r.system.name != name:
                r.pause()
        for r in self.running:
            if r.system.name == name and r.paused:
                r.resume()
                answer_each_model(r.system, (delay,), REWARM_REQUESTS, READY_TIMEOUT_S)

    def _resume_all(self) -> None:
        for r in self.running:
            if r.paused:
                r.resume()
                answer_each_model(r.system, self.plan.delays_ms, REWARM_REQUESTS, READY_TIMEOUT_S)

    def _warnings(self, document: dict[str, Any]) -> list[str]:
        """Things that make figures doubtful without failing a cell: restarted LiteLLM workers."""
        warnings = []
        for r in self.running:
            workers = r.info.get("num_workers")
            usage = document.get("resources", {}).get(f"{r.system.name}/proxy")
            # the proxy, its workers and (with more than one) multiprocessing's resource tracker
            if workers and usage and len(usage["pids"]) > workers + (2 if workers > 1 else 0):
                warnings.append(
                    f"{r.system.name}: {len(usage['pids'])} processes seen for {workers} workers: "
                    "uvicorn's supervisor restarted workers during the run"
                )
        return warnings

    def _describe_systems(self) -> dict[str, Any]:
        return {
            r.system.name: {
                "base_url": r.system.base_url,
                "processes": {name: p.pid for name, p in r.processes.items()},
                **{k: v for k, v in r.info.items() if isinstance(v, str | int | float)},
            }
            for r in self.running
        }

    def _stop_all(self) -> None:
        threads = [threading.Thread(target=r.stop) for r in self.running if not r.system.direct]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for r in self.running:
            if r.system.direct:
                r.stop()
        prefixes = [str(r.info["topic_prefix"]) for r in self.running if "topic_prefix" in r.info]
        try:
            removed = delete_topics(self.bootstrap, prefixes)
            log(f"stopped everything; deleted {removed} topics of this run")
        except Exception as exc:  # cleanup must not hide the results
            log(f"could not delete this run's topics: {exc}")

    # ------------------------------------------------------------------ measuring

    @property
    def systems(self) -> list[str]:
        return [r.system.name for r in self.running]

    def _loadgen(
        self, args: list[str], timeout_s: float, on_event: Callable[[str], None] | None = None
    ) -> CellRun | None:
        try:
            return run_loadgen(
                ["--targets", str(self.targets_file), "--client", self.plan.client, *args],
                sampler=self.sampler,
                cwd=self.root,
                log=self.log_dir / "loadgen.log",
                timeout_s=timeout_s,
                on_event=on_event,
            )
        except LoadgenError as exc:
            self.failures.append(str(exc))
            log(f"FAILED: {exc}")
            return None

    def _measure(self, tmp: Path, document: dict[str, Any]) -> None:
        self.targets_file = tmp / "targets.json"
        fault_targets = dict(
            fault_target(r.system.name, r.system.base_url, r.system.api_key, self.plan.fault_delay_ms)
            for r in self.running
            if r.system.name in self.plan.fault_systems
        )
        write_targets(self.targets_file, [r.system for r in self.running], self._all_delays(), fault_targets)
        document["client_calibration"] = self._calibrate()
        self._load_warm_up()
        document["sequential"], document["streaming"] = {}, {}
        for stream in (False, True):
            for delay in self.plan.delays_ms:
                self._sequential(delay, stream, document)
        document["closed_loop"], document["open_loop"] = {}, {}
        for delay in self.plan.loop_delays_ms:
            for concurrency in self.plan.concurrency:
                cell = self._loop_cell("closed", delay, ["--concurrency", str(concurrency)], f"c{concurrency}")
                document["closed_loop"].setdefault(f"{delay}ms", {})[f"c{concurrency}"] = cell
        for delay in self.plan.open_delays_ms:
            rate = self.plan.open_rate
            cell = self._loop_cell("open", delay, ["--rate", str(rate)], f"r{rate:g}")
            document["open_loop"].setdefault(f"{delay}ms", {})[f"r{rate:g}"] = cell
        if self.plan.fault_systems:
            document["fault"] = self._fault()

    def _calibrate(self) -> dict[str, Any]:
        """The load generator's own cost: raw client against httpx, 50 clients, direct at 0 ms."""
        out: dict[str, Any] = {"target": target_id("direct", 0, False), "concurrency": 50, "chosen": self.plan.client}
        self._focus("direct", 0)
        for client in ("raw", "httpx"):
            try:
                cell = run_loadgen(
                    [
                        "--targets",
                        str(self.targets_file),
                        "--client",
                        client,
                        "--mode",
                        "closed",
                        "--target",
                        target_id("direct", 0, False),
                        "--concurrency",
                        "50",
                        "--duration",
                        str(self.plan.calibration_s),
                        "--warmup",
                        "0.3",
                    ],
                    sampler=self.sampler,
                    cwd=self.root,
                    log=self.log_dir / "loadgen.log",
                    timeout_s=self.plan.calibration_s + 60,
                )
            except LoadgenError as exc:
                self.failures.append(str(exc))
                continue
            r = cell.result
            out[client] = {
                "throughput_rps": r["throughput_rps"],
                "errors": r["errors"],
                "client_cpu_us_per_request": round(r["client_cpu_s"] * 1e6 / r["ok"], 1) if r["ok"] else None,
                "latency_p50_ms": loop_summary(r, cell.cpu_s, cell.machine_busy, CpuAttribution((), {}))["latency_ms"][
                    "p50"
                ],
            }
            log(f"calibration {client}: {out[client]}")
        return out

    def _sequential(self, delay: int, stream: bool, document: dict[str, Any]) -> None:
        self._resume_all()
        rounds = self.plan.stream_rounds if stream else self.plan.sequential_rounds
        names = self.systems
        args = ["--mode", "sequential", "--rounds", str(rounds), "--warmup-rounds", str(self.plan.warmup_rounds)]
        for name in names:
            args += ["--target", target_id(name, delay, stream)]
        cell = self._loadgen(args, timeout_s=rounds * len(names) * 2.0 + 120)
        if cell is None:
            return
        by_system = {name: cell.result["targets"][target_id(name, delay, stream)] for name in names}
        renamed = {**cell.result, "targets": by_system}
        if stream:
            summary = streaming_summary(renamed, "direct")
            document["streaming"][f"{delay}ms"] = summary
            shown = {n: e.get("added_ttft_ms", e["ttft_ms"])["p50"] for n, e in summary.items()}
            log(f"streaming {delay} ms, {rounds} rounds: TTFT p50 (added; direct: absolute) {shown}")
        else:
            summary = sequential_summary(renamed, "direct")
            document["sequential"][f"{delay}ms"] = summary
            shown = {n: e.get("added_ms", e["latency_ms"])["p50"] for n, e in summary.items()}
            log(f"sequential {delay} ms, {rounds} rounds: p50 (added; direct: absolute) {shown}")

    def _load_warm_up(self) -> None:
        """Each gateway alone under a closed loop for ``plan.load_warmup_s``, nothing measured: the
        shared broker's JIT (and every gateway's caches and pools) warm before the first cell."""
        seconds = self.plan.load_warmup_s
        if seconds <= 0:
            return
        started = time.monotonic()
        for name in self.systems:
            if name == "direct":
                continue
            self._focus(name, 0)
            args = ["--mode", "closed", "--target", target_id(name, 0, False), "--concurrency", "50"]
            args += ["--duration", str(seconds), "--warmup", "0", "--drain", str(self.plan.drain_s)]
            self._loadgen(args, timeout_s=seconds + self.plan.drain_s + 60)
        log(f"load warm-up: {seconds:g} s of 50 clients on each gateway, {time.monotonic() - started:.1f} s")

    def _loop_cell(self, mode: str, delay: int, extra: list[str], label: str) -> dict[str, Any]:
        plan = self.plan
        part_s = plan.loop_duration_s / plan.loop_repeats
        names = self.systems
        parts: dict[str, list[CellRun]] = {n: [] for n in names}
        for repeat in range(plan.loop_repeats):
            k = self.cell_index % len(names)
            order = names[k:] + names[:k]
            if repeat % 2:
                order = order[::-1]
            self.cell_index += 1
            for name in order:
                self._focus(name, delay)
                args = [
                    "--mode",
                    mode,
                    "--target",
                    target_id(name, delay, False),
                    *extra,
                    "--duration",
                    str(part_s),
                    "--warmup",
                    str(plan.loop_warmup_s),
                ]
                args += ["--drain", str(plan.drain_s)]
                run = self._loadgen(args, timeout_s=part_s + plan.loop_warmup_s + plan.drain_s + 60)
                if run is not None:
                    parts[name].append(run)
        cell: dict[str, Any] = {}
        for name in names:
            if not parts[name]:
                continue
            merged = merge_loop_runs(parts[name])
            groups = tuple(g for g in self.sampler.names() if g.startswith(f"{name}/"))
            cell[name] = loop_summary(
                merged.result, merged.cpu_s, merged.machine_busy, CpuAttribution(groups, SERVICES)
            )
            e = cell[name]
            log(
                f"{mode} {delay} ms {label} {name}: {e['throughput_rps']} rps, {e['errors']} errors, "
                f"p50 {e['latency_ms']['p50']} ms, p99 {e['latency_ms']['p99']} ms"
            )
        return cell

    # ------------------------------------------------------------------ the fault scenario

    def _fault(self) -> dict[str, Any]:
        """Per Turnout stack of the plan: an open loop in thirds, the primary failing in the middle one."""
        plan = self.plan
        delay, third_s = plan.fault_delay_ms, plan.fault_third_s
        section: dict[str, Any] = {"scenario": scenario(delay, plan.fault_rate, third_s), "systems": {}}
        for name in plan.fault_systems:
            running = next((r for r in self.running if r.system.name == name), None)
            if running is None or "config_path" not in running.info:
                self.failures.append(f"fault scenario: {name} is not a running Turnout stack")
                continue
            self._focus(name, delay)
            try:
                self._warm_up_fault_model(running.system)
            except (TimeoutError, httpx.HTTPError) as exc:
                self.failures.append(f"fault scenario, {name}: {exc}")
                log(f"FAILED: fault scenario, {name}: {exc}")
                continue
            injector = FaultInjector(self.simulator_url, delay, third_s)
            args = [
                "--mode",
                "open",
                "--target",
                fault_target_id(name, delay),
                "--rate",
                str(plan.fault_rate),
                "--duration",
                str(3 * third_s),
                "--warmup",
                str(plan.loop_warmup_s),
                "--drain",
                str(plan.drain_s),
                "--samples",
            ]
            log(f"fault scenario on {name}: 3 x {third_s:g} s at {plan.fault_rate:g}/s, primary down in the middle")
            try:
                run = self._loadgen(
                    args, timeout_s=3 * third_s + plan.loop_warmup_s + plan.drain_s + 60, on_event=injector.on_event
                )
            finally:
                injector.finish()
            self.failures.extend(f"fault scenario, {name}: {e}" for e in injector.errors)
            if run is None:
                continue
            samples = [Sample.from_row(row) for row in run.result["samples"]]
            routing, transitions, problems = fault_records(
                running.info["config_path"], self.plan.fault_delay_ms, samples, injector
            )
            self.failures.extend(f"fault scenario, {name}: {p}" for p in problems)
            entry = fault_summary(
                samples,
                routing,
                third_s=third_s,
                fault_on_s=injector.fault_on_s,
                fault_off_s=injector.fault_off_s,
                transitions=transitions,
            )
            entry["open_loop"] = {
                k: run.result.get(k)
                for k in ("rate", "window_s", "scheduled", "sent", "late_sends", "missed_sends", "in_flight_at_end")
            }
            entry["open_loop"]["cut_after_window"] = run.result.get("cut_after_window")
            section["systems"][name] = entry
            shown = [
                (t["phase"], t["success_rate"], t["latency_ms"]["p50"], t["latency_ms"]["p99"], t["fallback_share"])
                for t in entry["thirds"]
            ]
            log(f"fault {name}: (phase, success, p50, p99, fallback share) {shown}")
        return section

    def _warm_up_fault_model(self, system: System) -> None:
        body = chat_body(fault_model(self.plan.fault_delay_ms), False)
        url = f"{system.base_url}/chat/completions"
        headers = {"Authorization": f"Bearer {system.api_key}"}
        with httpx.Client(timeout=10) as client:

            def answered() -> bool:
                response = client.post(url, json=body, headers=headers)
                return response.status_code == 200 and b'"choices"' in response.content

            wait_until(answered, READY_TIMEOUT_S, f"{system.name} answering {body['model']}", 0.2)
            for _ in range(REWARM_REQUESTS):
                client.post(url, json=body, headers=headers)
