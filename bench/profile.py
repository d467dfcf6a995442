"""Where a Turnout stack's CPU goes under load: py-spy on every process at once.

    python -m bench.profile [--layout fused] [--workers 2] [--concurrency 50] [--delay 60] [--seconds 15] [--cpu]

Starts the simulator and one Turnout stack as the benchmark does (``bench.systems``), drives it with
the benchmark's load generator (closed loop), and records each process (gateway, workers, sink) with
``py-spy record --format raw`` for ``--seconds`` in the middle of the load. Prints, per process, the
functions with the most samples on the stack (inclusive) and at the top of it (self), and keeps the
folded stacks in ``.run/bench/profile/``. py-spy is a dev dependency; it samples from outside the
process (``--nonblocking``), so the profile costs the stack next to nothing.

``--cpu`` reads ``/proc`` instead: each process's CPU time (user and system) over ``--seconds`` of
load, divided by the requests completed in that time. The stack's processes, the Kafka broker and
the load generator are listed; the simulator runs alone and is left out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.procstat import CLOCK_TICKS
from bench.systems import alone
from bench.workload import System, target_id, write_targets

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".run" / "bench" / "profile"


def summarize(folded: Path, top: int) -> str:
    """The ``top`` functions by inclusive and by self samples, from py-spy's raw (folded) output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")" if " (" in f else f
            for f in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    if not total:
        return "  (no samples)"
    lines = [f"  {total} samples"]
    lines += ["  inclusive:"] + [f"    {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    lines += ["  self:"] + [f"    {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    p.add_argument("--layout", choices=["fused", "split"], default="fused")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--delay", type=int, default=60, choices=[0, 60])
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--cpu", action="store_true", help="CPU per request of each process (from /proc), not py-spy")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    OUT.mkdir(parents=True, exist_ok=True)
    with alone(args.layout, workers=args.workers, delays_ms=(args.delay,), name="prof") as (_, stack, tmp):
        targets = tmp / "targets.json"
        system: System = stack.system
        write_targets(targets, [system], (args.delay,))
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--targets",
                str(targets),
                "--target",
                target_id(system.name, args.delay, False),
                "--mode",
                "closed",
                "--concurrency",
                str(args.concurrency),
                "--duration",
                str(args.seconds + 10),
                "--warmup",
                "3",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert load.stdout is not None
        for line in load.stdout:  # the load generator says when its measured window starts (after warm-up)
            if b'"window_start"' in line:
                break
        else:
            raise RuntimeError("the load generator ended before its window started")
        if args.cpu:
            return _cpu_per_request(stack.processes, load, args.seconds)
        spies = {
            name: subprocess.Popen(
                [
                    spy,
                    "record",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-r",
                    "100",
                    "-d",
                    str(int(args.seconds)),
                    "-p",
                    str(proc.pid),
                    "-o",
                    str(OUT / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name, proc in stack.processes.items()
        }
        for spy_proc in spies.values():
            spy_proc.wait(args.seconds + 60)
        out, _ = load.communicate(timeout=args.seconds + 120)
        print(out.decode().strip().splitlines()[-1][:400])
        for name in spies:
            print(f"\n{name}\n{summarize(OUT / f'{name}.txt', args.top)}")
    return 0


def _user_system_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a whole process (every thread), from ``/proc/<pid>/stat``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def _cpu_per_request(processes: dict[str, Any], load: subprocess.Popen[bytes], seconds: float) -> int:
    pids = {name: proc.pid for name, proc in processes.items()}
    try:
        pids["kafka"] = int((ROOT / ".run" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        print("no .run/kafka.pid: the broker is left out")
    pids["load generator"] = load.pid
    before = {name: _user_system_s(pid) for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(seconds)
    after = {name: _user_system_s(pid) for name, pid in pids.items()}
    elapsed = time.monotonic() - started
    out, _ = load.communicate(timeout=seconds + 120)
    result = json.loads(out.decode().strip().splitlines()[-1])
    rps = result["throughput_rps"]
    print(f"{rps} requests/s, {result['errors']} errors; CPU per request over {elapsed:.1f} s:")
    print(f"  {'process':<16} {'user µs':>9} {'system µs':>10}")
    requests = rps * elapsed
    for name in pids:
        user, system = (1e6 * (a - b) / requests for a, b in zip(after[name], before[name], strict=True))
        print(f"  {name:<16} {user:9.0f} {system:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
