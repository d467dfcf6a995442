"""The systems under test, as processes: the simulator, Turnout stacks and LiteLLM proxies.

Each :class:`Running` system knows its base URL, its processes (named, for the CPU and memory
figures) and how to stop. Turnout runs through :class:`turnout.stack.Stack` with a config generated
from ``config/turnout.yaml``: a topic prefix of its own, free ports, chDB and Faust data under the
run's temporary folder, the layout, one deployment per upstream delay, and the fault scenario's
model (``bench/fault.py``: a primary and a backup deployment, short breakers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.fault import add_fault_model
from bench.litellm_env import MASTER_KEY, LiteLLMEnv, LiteLLMRoute, write_config
from bench.workload import System, chat_body, gateway_model, upstream_model
from turnout.stack import free_port, wait_until

__all__ = [
    "SESSION_TIMEOUT_MS",
    "TURNOUT_KEY",
    "Running",
    "answer_each_model",
    "delete_topics",
    "free_port",
    "new_run_id",
    "start_litellm",
    "start_simulator",
    "start_turnout",
    "turnout_config_data",
    "wait_for",
]

TURNOUT_KEY = "sk-turnout-demo"
"""The demo key of ``config/turnout.yaml`` (stored there hashed)."""
SESSION_TIMEOUT_MS = 120_000
"""Kafka session timeout of the benchmark's Turnout workers (the example config has 6 s)."""


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    """Poll ``check()`` until true; raise TimeoutError after ``timeout_s`` (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s")
        time.sleep(interval_s)


@dataclass
class Running:
    """A started system: its client-facing description, its processes, and how to stop it."""

    system: System
    processes: dict[str, subprocess.Popen[bytes]]
    stop: Callable[[], None]
    wait_ready: Callable[[float], None] = lambda timeout_s: None
    """Block until the system answers its health check, or raise (argument: the timeout in seconds)."""
    group_descendants: bool = False
    """Whether each process's children count with it (LiteLLM's worker processes)."""
    pausable: tuple[str, ...] = ()
    """Processes frozen (SIGSTOP) while another system is under load, so that an idle system takes
    no CPU from the one measured (Turnout's gateway and workers: Faust polls Kafka when idle); a
    paused process with ``group_descendants`` is frozen with its whole process group."""
    info: dict[str, Any] = field(default_factory=dict)
    paused: bool = False

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def pause(self) -> None:
        if self.pausable and not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False

    def _signal(self, sig: int) -> None:
        for name in self.pausable:
            proc = self.processes[name]
            if proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                if self.group_descendants:
                    os.killpg(proc.pid, sig)  # started with start_new_session: the group is its own
                else:
                    os.kill(proc.pid, sig)


def _terminate_group(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM the process's session (it was started with ``start_new_session``), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def start_simulator(log_dir: Path) -> Running:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "simulator.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "turnout.cli", "simulate", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    running = Running(System("direct", f"{url}/v1", "sim-key", direct=True), {"simulator": proc}, lambda: None)
    running.stop = lambda: _terminate_group(proc)
    try:
        wait_for(lambda: _alive_and_ok(running, f"{url}/healthz"), 30, "simulator")
    except BaseException:
        running.stop()
        raise
    return running


def _alive_and_ok(running: Running, url: str) -> bool:
    if not running.alive():
        raise RuntimeError(f"{running.system.name} exited while starting")
    return httpx.get(url, timeout=2).status_code == 200


def turnout_config_data(
    base: dict[str, Any],
    *,
    layout: str,
    prefix: str,
    gateway_port: int,
    sink_port: int,
    chdb_path: Path,
    simulator_url: str,
    delays_ms: tuple[int, ...],
    bootstrap: str | None = None,
    redis_url: str | None = None,
    partitions: int | None = None,
    fault_delay_ms: int | None = None,
) -> dict[str, Any]:
    """``config/turnout.yaml`` (as ``base``) adapted to one benchmark stack; ``base`` is not changed.

    Besides names, ports and paths, ``kafka.session_timeout_ms`` is :data:`SESSION_TIMEOUT_MS`, so
    that workers frozen while another system is measured keep their group membership (the hot path
    does not depend on it). With ``fault_delay_ms``, the fault scenario's model is added and the
    breakers are short (``bench.fault.BREAKERS``; no other cell has failures that would trip them).
    """
    data = yaml.safe_load(yaml.safe_dump(base))
    data["gateway"].update(port=gateway_port, request_timeout_s=30)
    data["kafka"].update(topic_prefix=prefix, consumer_group=f"{prefix}-stages", session_timeout_ms=SESSION_TIMEOUT_MS)
    if bootstrap:
        data["kafka"]["bootstrap"] = bootstrap
    if partitions:
        data["kafka"]["partitions"] = partitions
    if redis_url:
        data["redis"]["url"] = redis_url
    data["clickhouse"]["dsn"] = f"chdb://{chdb_path}"
    data["sink"]["query_port"] = sink_port
    data["topology"]["layout"] = layout
    data["providers"]["simulator"]["base_url"] = f"{simulator_url.rstrip('/')}/v1"
    for delay in delays_ms:
        deployment = f"bench-sim-{delay}ms"
        data["deployments"][deployment] = {"provider": "simulator", "model": upstream_model(delay)}
        data["models"][gateway_model(delay)] = {"deployments": [deployment]}
    if fault_delay_ms is not None:
        add_fault_model(data, fault_delay_ms)
    return data


def start_turnout(
    layout: str,
    *,
    root: Path,
    run_dir: Path,
    log_dir: Path,
    simulator_url: str,
    delays_ms: tuple[int, ...],
    workers: int,
    run_id: str,
    partitions: int | None = None,
    fault_delay_ms: int | None = None,
) -> Running:
    """Start a Turnout stack (sink, ``workers`` workers, gateway) without waiting (``wait_ready`` does)."""
    from schemas.config import load_config
    from turnout.stack import Stack

    name = f"turnout-{layout}"
    prefix = f"bench{run_id}{layout}"
    data_dir = run_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((root / "config" / "turnout.yaml").read_text())
    data = turnout_config_data(
        base,
        layout=layout,
        prefix=prefix,
        gateway_port=free_port(),
        sink_port=free_port(),
        chdb_path=data_dir / "clickhouse",
        simulator_url=simulator_url,
        delays_ms=delays_ms,
        partitions=partitions,
        fault_delay_ms=fault_delay_ms,
    )
    config_path = data_dir / "turnout.yaml"
    config_path.write_text(yaml.safe_dump(data, sort_keys=False))
    config = load_config(config_path)
    env = {"SIMULATOR_API_KEY": "sim-key", "APP_DATADIR": str(data_dir / "faust")}
    stack = Stack(config_path, config, workers=workers, layout=layout, log_dir=log_dir / name, env=env)
    stack.start()
    running = Running(
        System(name, stack.base_url, TURNOUT_KEY),
        stack.processes,
        stack.stop,
        wait_ready=stack.wait_ready,
        pausable=("gateway", *(f"worker-{i}" for i in range(workers))),
        info={
            "topic_prefix": prefix,
            "config_path": str(config_path),
            "consumer_group": config.kafka.consumer_group,
            "workers": workers,
            "layout": layout,
            "partitions": config.kafka.partitions,
            "session_timeout_ms": config.kafka.session_timeout_ms,
        },
    )
    return running


def start_litellm(
    workers: int, *, env: LiteLLMEnv, run_dir: Path, log_dir: Path, simulator_url: str, delays_ms: tuple[int, ...]
) -> Running:
    """Start LiteLLM's proxy with ``--num_workers workers``; returns at once (see :func:`wait_litellm`)."""
    name = f"litellm-w{workers}"
    data_dir = run_dir / name
    routes = [LiteLLMRoute(gateway_model(d), upstream_model(d)) for d in delays_ms]
    config_path = write_config(data_dir / "config.yaml", routes, simulator_url)
    log_config = data_dir / "log_config.yaml"
    log_config.write_text(yaml.safe_dump(QUIET_UVICORN_LOGGING, sort_keys=False))
    port = free_port()
    proc = env.spawn(config_path, port, workers, log_dir / f"{name}.log", log_config=log_config)
    running = Running(
        System(name, f"http://127.0.0.1:{port}/v1", MASTER_KEY),
        {"proxy": proc},
        lambda: _terminate_group(proc),
        group_descendants=True,
        # not frozen: idle, it uses next to no CPU, and after a SIGSTOP/SIGCONT uvicorn's supervisor
        # finds its health-check ping timed out and kills the workers
        info={"num_workers": workers},
    )
    health = f"http://127.0.0.1:{port}/health/liveliness"
    running.wait_ready = lambda timeout_s: wait_for(lambda: _alive_and_ok(running, health), timeout_s, name)
    return running


QUIET_UVICORN_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
"""uvicorn logging for LiteLLM's proxy: no access log, as Turnout's gateway runs (``access_log=False``)."""


def delete_topics(bootstrap: str, prefixes: list[str], timeout_s: float = 30.0) -> int:
    """Delete the topics a run created (those starting with one of ``prefixes``); returns how many."""
    from confluent_kafka.admin import AdminClient

    if not prefixes:
        return 0
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(tuple(prefixes))]
    if names:
        for future in admin.delete_topics(names, operation_timeout=timeout_s).values():
            try:
                future.result(timeout_s)
            except Exception:  # best effort: a topic left behind is harmless
                continue
    return len(names)


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]


@contextlib.contextmanager
def alone(
    layout: str, *, workers: int, delays_ms: tuple[int, ...], name: str
) -> Iterator[tuple[Running, Running, Path]]:
    """The simulator and one Turnout stack, started and ready, for the tools beside the benchmark
    (``bench.profile``, ``bench.hops``): (simulator, stack, its temporary folder); stopped on exit."""
    tmp = Path(tempfile.mkdtemp(prefix=f"turnout-{name}-"))
    simulator = start_simulator(tmp / "logs")
    stack = None
    try:
        stack = start_turnout(
            layout,
            root=Path(__file__).resolve().parent.parent,
            run_dir=tmp,
            log_dir=tmp / "logs",
            simulator_url=simulator.system.base_url.removesuffix("/v1"),
            delays_ms=delays_ms,
            workers=workers,
            run_id=f"{name}{int(time.time()) % 100000}",
        )
        stack.wait_ready(120)
        yield simulator, stack, tmp
    finally:
        if stack is not None:
            stack.stop()
        simulator.stop()


def answer_each_model(system: System, delays_ms: tuple[int, ...], requests: int, timeout_s: float) -> None:
    """Poll until each of the system's models answers, streaming and not (a fresh Turnout stack
    needs its partitions), then send each ``requests`` more: the warm-up before a system's cells."""
    with httpx.Client(timeout=10) as client:
        for delay in delays_ms:
            for stream in (False, True):
                body = chat_body(system.model(delay), stream)
                url = f"{system.base_url}/chat/completions"
                headers = {"Authorization": f"Bearer {system.api_key}"}

                def answered(body: dict[str, Any] = body, url: str = url, headers: dict[str, str] = headers) -> bool:
                    response = client.post(url, json=body, headers=headers)
                    marker = b"[DONE]" if body.get("stream") else b'"choices"'
                    return response.status_code == 200 and marker in response.content

                wait_until(answered, timeout_s, f"{system.name} answering {system.model(delay)}", 0.2)
                for _ in range(requests):
                    client.post(url, json=body, headers=headers)
