"""CPU time and memory of processes, read from /proc (Linux; no psutil).

- CPU seconds: ``utime + stime`` of ``/proc/<pid>/stat`` (fields 14 and 15) over ``SC_CLK_TCK``;
- memory: ``VmRSS`` (now) and ``VmHWM`` (the peak resident set since the process started) of
  ``/proc/<pid>/status``;
- children: ``/proc/<pid>/task/*/children`` (every thread's children).

A :class:`ProcessSampler` watches named groups of processes (a root pid and, optionally, all its
descendants) from a background thread, so it sees children that appear late (LiteLLM's workers)
and remembers the last figures of processes that have exited. :meth:`ProcessSampler.cpu_seconds`
read at the start and the end of a measurement gives the CPU each group spent in it; CPU counts from
when a group is first watched (Kafka's process may have run for hours), memory peaks are the
process's own (``VmHWM``, since it started).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "GroupUsage",
    "ProcStat",
    "ProcessSampler",
    "children",
    "descendants",
    "machine_cpu_times",
    "parse_machine_stat",
    "parse_stat",
    "parse_status_kb",
    "read_proc",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """One reading of one process."""

    pid: int
    name: str
    cpu_s: float
    rss_kb: int
    hwm_kb: int


def parse_stat(text: str) -> tuple[str, float]:
    """``(comm, utime + stime in seconds)`` from the text of ``/proc/<pid>/stat``.

    ``comm`` is in parentheses and may itself hold spaces and parentheses, so the fields are
    counted from the last ``)``.
    """
    open_at = text.index("(")
    close_at = text.rindex(")")
    comm = text[open_at + 1 : close_at]
    rest = text[close_at + 2 :].split()  # rest[0] is field 3 (state)
    utime, stime = int(rest[11]), int(rest[12])  # fields 14 and 15
    return comm, (utime + stime) / CLOCK_TICKS


def parse_status_kb(text: str, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``); 0 when absent (a zombie)."""
    prefix = key + ":"
    for line in text.splitlines():
        if line.startswith(prefix):
            return int(line[len(prefix) :].split()[0])
    return 0


def read_proc(pid: int) -> ProcStat | None:
    """A reading of ``pid``, or ``None`` when it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        status = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    name, cpu_s = parse_stat(stat)
    return ProcStat(pid, name, cpu_s, parse_status_kb(status, "VmRSS"), parse_status_kb(status, "VmHWM"))


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (of any of its threads)."""
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return found
    for task in tasks:
        try:
            found.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, depth first."""
    found: list[int] = []
    stack = children(pid)
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children(child))
    return found


def parse_machine_stat(text: str) -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of the whole machine from ``/proc/stat``'s ``cpu`` line.

    Busy is everything but ``idle`` and ``iowait``; guest time is already inside ``user``.
    """
    for line in text.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:9]]  # user nice system idle iowait irq softirq steal
            total = sum(ticks)
            return (total - ticks[3] - ticks[4]) / CLOCK_TICKS, total / CLOCK_TICKS
    raise ValueError("no 'cpu' line in /proc/stat")


def machine_cpu_times() -> tuple[float, float]:
    return parse_machine_stat((PROC / "stat").read_text())


@dataclass(slots=True)
class _PidRecord:
    name: str
    cpu_base_s: float = 0.0
    """CPU already used when the group was first watched (0 for a process that appeared later)."""
    cpu_s: float = 0.0
    rss_kb: int = 0
    hwm_kb: int = 0
    alive: bool = True


@dataclass(slots=True)
class _Group:
    root: int
    with_descendants: bool
    pids: dict[int, _PidRecord] = field(default_factory=dict)
    peak_rss_sum_kb: int = 0


def _cpu_since_watched(group: _Group) -> float:
    return sum(r.cpu_s - r.cpu_base_s for r in group.pids.values())


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """What a group of processes used: CPU since it was watched, and memory peaks (since it started).

    ``peak_rss_mb`` is the largest ``VmHWM`` of one process of the group (the kernel's own peak);
    ``peak_rss_sum_mb`` the largest sum of the group's ``VmRSS`` seen by the sampler.
    """

    name: str
    pids: tuple[int, ...]
    cpu_s: float
    peak_rss_mb: float
    peak_rss_sum_mb: float
    rss_mb: float
    processes: tuple[dict[str, object], ...] = ()
    """Per process: ``pid``, ``name``, ``cpu_s``, ``peak_rss_mb``."""

    def to_dict(self) -> dict[str, object]:
        return {
            "pids": list(self.pids),
            "cpu_s": round(self.cpu_s, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_rss_sum_mb": round(self.peak_rss_sum_mb, 1),
            "rss_mb": round(self.rss_mb, 1),
            "processes": list(self.processes),
        }


class ProcessSampler:
    """Samples named process groups every ``interval_s`` on a daemon thread (and on demand)."""

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, pid: int, with_descendants: bool = False) -> None:
        """Watch ``pid`` (and its descendants) as ``name``; CPU counts from now on."""
        with self._lock:
            group = _Group(pid, with_descendants)
            self._groups[name] = group
            self._sample_group(group)
            for record in group.pids.values():
                record.cpu_base_s = record.cpu_s

    def names(self) -> list[str]:
        with self._lock:
            return list(self._groups)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            for group in self._groups.values():
                self._sample_group(group)

    @staticmethod
    def _sample_group(group: _Group) -> None:
        pids = [group.root, *(descendants(group.root) if group.with_descendants else ())]
        seen: set[int] = set()
        rss_sum = 0
        for pid in pids:
            reading = read_proc(pid)
            if reading is None:
                continue
            seen.add(pid)
            record = group.pids.setdefault(pid, _PidRecord(reading.name))
            record.cpu_s = max(record.cpu_s, reading.cpu_s)
            record.rss_kb = reading.rss_kb
            record.hwm_kb = max(record.hwm_kb, reading.hwm_kb)
            record.alive = True
            rss_sum += reading.rss_kb
        for pid, record in group.pids.items():
            if pid not in seen:
                record.alive = False
                record.rss_kb = 0
        group.peak_rss_sum_kb = max(group.peak_rss_sum_kb, rss_sum)

    def cpu_seconds(self, names: Iterable[str] | None = None) -> dict[str, float]:
        """Sample now; CPU seconds each group has used since it was watched (exited processes included)."""
        self.sample()
        with self._lock:
            wanted = self._groups if names is None else {n: self._groups[n] for n in names if n in self._groups}
            return {name: _cpu_since_watched(group) for name, group in wanted.items()}

    def usage(self) -> dict[str, GroupUsage]:
        self.sample()
        with self._lock:
            return {
                name: GroupUsage(
                    name=name,
                    pids=tuple(group.pids),
                    cpu_s=_cpu_since_watched(group),
                    peak_rss_mb=max((r.hwm_kb for r in group.pids.values()), default=0) / 1024,
                    peak_rss_sum_mb=group.peak_rss_sum_kb / 1024,
                    rss_mb=sum(r.rss_kb for r in group.pids.values()) / 1024,
                    processes=tuple(
                        {
                            "pid": pid,
                            "name": r.name,
                            "cpu_s": round(r.cpu_s, 3),
                            "peak_rss_mb": round(r.hwm_kb / 1024, 1),
                        }
                        for pid, r in group.pids.items()
                    ),
                )
                for name, group in self._groups.items()
            }
