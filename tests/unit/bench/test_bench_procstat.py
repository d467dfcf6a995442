"""Reading CPU time and memory from /proc, against this very process and a child of it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.procstat import (
    CLOCK_TICKS,
    ProcessSampler,
    children,
    descendants,
    machine_cpu_times,
    parse_machine_stat,
    parse_stat,
    parse_status_kb,
    read_proc,
)

STAT = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 {utime} {stime} 0 0 20 0 3 0 100 1000 200"


def test_stat_fields_are_counted_after_the_last_parenthesis() -> None:
    name, cpu_s = parse_stat(STAT.format(utime=3 * CLOCK_TICKS, stime=CLOCK_TICKS))
    assert name == "my (odd) name"
    assert cpu_s == 4.0


def test_status_lines_in_kb() -> None:
    text = "Name:\tpython\nVmHWM:\t  20480 kB\nVmRSS:\t  10240 kB\n"
    assert parse_status_kb(text, "VmRSS") == 10240
    assert parse_status_kb(text, "VmHWM") == 20480
    assert parse_status_kb("Name:\tzombie\n", "VmRSS") == 0


def test_machine_stat() -> None:
    t = CLOCK_TICKS
    text = f"cpu  {4 * t} 0 {2 * t} {10 * t} {t} 0 {t} 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    assert parse_machine_stat(text) == (7.0, 18.0)
    with pytest.raises(ValueError, match="cpu"):
        parse_machine_stat("intr 1 2 3\n")


def test_this_process() -> None:
    sum(i * i for i in range(200_000))  # some CPU time to read
    me = read_proc(os.getpid())
    assert me is not None
    assert me.pid == os.getpid()
    assert me.name  # "python3.11", "pytest", ...: whatever started the tests
    assert me.cpu_s > 0
    assert 0 < me.rss_kb <= me.hwm_kb


def test_a_process_that_is_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert read_proc(proc.pid) is None
    assert children(proc.pid) == []


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_children_and_descendants(sleeper: subprocess.Popen[bytes]) -> None:
    assert sleeper.pid in children(os.getpid())
    assert sleeper.pid in descendants(os.getpid())


def test_sampler_groups_a_process_with_its_children(sleeper: subprocess.Popen[bytes]) -> None:
    sampler = ProcessSampler(interval_s=0.05)
    sampler.watch("me", os.getpid(), with_descendants=True)
    sampler.watch("alone", os.getpid())
    before = sampler.cpu_seconds()
    sum(i * i for i in range(2_000_000))  # tens of milliseconds of CPU: several clock ticks
    after = sampler.cpu_seconds()
    assert set(before) == {"me", "alone"}
    assert after["me"] > before["me"] >= 0  # counted from when the group was watched
    usage = sampler.usage()
    assert sleeper.pid in usage["me"].pids
    assert usage["alone"].pids == (os.getpid(),)
    # the group's sampled sum holds this process's sampled RSS; the kernel's peak (VmHWM) may be higher
    # than any sample (this process may have been bigger earlier in the test run)
    assert usage["me"].peak_rss_sum_mb >= usage["alone"].peak_rss_sum_mb > 0
    assert usage["alone"].peak_rss_mb >= usage["alone"].rss_mb > 0
    shape = usage["me"].to_dict()
    assert set(shape) == {"pids", "cpu_s", "peak_rss_mb", "peak_rss_sum_mb", "rss_mb", "processes"}
    assert {p["pid"] for p in usage["me"].processes} >= {os.getpid(), sleeper.pid}


def test_sampler_keeps_the_figures_of_a_process_that_exited() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    sampler = ProcessSampler()
    sampler.watch("child", proc.pid)
    seen = sampler.usage()["child"]
    proc.kill()
    proc.wait()
    gone = sampler.usage()["child"]
    assert gone.peak_rss_mb == seen.peak_rss_mb > 0
    assert gone.rss_mb == 0


def test_sampler_thread_starts_and_stops() -> None:
    sampler = ProcessSampler(interval_s=0.01)
    sampler.watch("me", os.getpid())
    sampler.start()
    sampler.stop()
    assert sampler.names() == ["me"]


def test_machine_cpu_times_are_live() -> None:
    busy, total = machine_cpu_times()
    assert 0 < busy <= total
