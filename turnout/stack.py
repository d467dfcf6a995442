"""Starts and stops Turnout's own processes: sink, workers, gateway (and the simulator).

Used by ``turnout run``, ``turnout demo`` and the end-to-end tests, so all three run the stack the
same way. Kafka and Redis are started separately (``scripts/services.sh up``). Each process logs to
``<log_dir>/<name>.log``.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

import httpx

from schemas.config import TurnoutConfig
from turnout.kafka_admin import delete_topics, wait_for_group

__all__ = ["SIMULATOR_ENV", "Stack", "free_port", "wait_until"]

# credentials for the example config's simulator providers (the simulator checks their shape only)
SIMULATOR_ENV = {
    "SIMULATOR_API_KEY": "sim-key",
    "SIMULATOR_AWS_ACCESS_KEY_ID": "AKIDSIMULATOR",
    "SIMULATOR_AWS_SECRET_ACCESS_KEY": "simulator-secret",
}


_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux: 32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(span: int = 1) -> int:
    """A port on 127.0.0.1 that a server started next can bind, with the ``span - 1`` after it.

    Taken below the kernel's ephemeral range: a port that ``bind(0)`` hands out is in that range,
    and between its release and the server's bind an outgoing connection (a Kafka client's, with
    a stack starting) could take it, which failed a benchmark run. Ports handed out before by this
    process are not handed out again."""
    high = _ephemeral_low()
    low = 20000 if high > 21000 else 1024
    for _ in range(200):
        port = random.randrange(low, high - span + 1)
        ports = range(port, port + span)
        if _handed_out.isdisjoint(ports) and all(_bindable(p) for p in ports):
            _handed_out.update(ports)
            return port
    raise RuntimeError(f"no {span} free port(s) found between {low} and {high}")


def wait_until(check: object, timeout_s: float, what: str, interval_s: float = 0.1) -> None:
    """Poll ``check()`` until it is true or ``timeout_s`` passes (then raise TimeoutError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not ready after {timeout_s} s")
        time.sleep(interval_s)


class Stack:
    def __init__(
        self,
        config_path: str | Path,
        config: TurnoutConfig,
        *,
        workers: int = 2,
        layout: str | None = None,
        simulator: bool = False,
        gateway: bool = True,
        sink: bool = True,
        log_dir: str | Path | None = None,
        env: dict[str, str] | None = None,
        delete_topics_on_stop: bool = False,
    ) -> None:
        self.config_path = str(config_path)
        self.config = config
        self.workers = workers
        self.layout = layout
        self.simulator = simulator
        self.gateway = gateway
        self.sink = sink
        self.log_dir = Path(log_dir or Path(config_path).resolve().parent.parent / ".run" / "logs")
        self.env = {**os.environ, **(env or {})}
        if simulator:
            for name, value in SIMULATOR_ENV.items():
                self.env.setdefault(name, value)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.delete_topics_on_stop = delete_topics_on_stop

    @property
    def base_url(self) -> str:
        return f"http://{self.config.gateway.host}:{self.config.gateway.port}/v1"

    @property
    def simulator_url(self) -> str:
        providers = self.config.providers  # the example's "simulator" provider, else the first one
        first = providers.get("simulator") or next(iter(providers.values()))
        parsed = urlparse(first.base_url)
        return f"{parsed.scheme}://{parsed.netloc}"

    def worker_metrics_url(self, index: int) -> str:
        assert self.config.topology.web_port is not None, "set topology.web_port to serve the workers' metrics"
        return f"http://127.0.0.1:{self.config.topology.web_port + index}/metrics"

    @property
    def sink_url(self) -> str:
        return f"http://{self.config.sink.query_host}:{self.config.sink.query_port}"

    def _spawn(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "turnout.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )
        log.close()

    def start_sink(self) -> None:
        self._spawn("sink", "sink", "--config", self.config_path)

    def start_worker(self, index: int) -> None:
        args = ["worker", "--config", self.config_path]
        if self.layout:
            args += ["--layout", self.layout]
        if self.config.topology.web_port is not None:  # one port each: topology.web_port + index
            args += ["--web-port", str(self.config.topology.web_port + index)]
        self._spawn(f"worker-{index}", *args)

    def start_gateway(self, name: str = "gateway", port: int | None = None, admin_port: int | None = None) -> str:
        """A gateway process (another one beside the first: its own ``port``, ``admin_port`` 0 for
        none); returns its base URL."""
        args = ["gateway", "--config", self.config_path]
        if port is not None:
            args += ["--port", str(port)]
        if admin_port is not None:
            args += ["--admin-port", str(admin_port)]
        self._spawn(name, *args)
        return f"http://{self.config.gateway.host}:{port or self.config.gateway.port}/v1"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        proc.wait(30)

    def start(self) -> None:
        if self.simulator:
            port = urlparse(self.simulator_url).port or 18080
            self._spawn("simulator", "simulate", "--port", str(port))
        if self.sink:
            self.start_sink()
        for i in range(self.workers):
            self.start_worker(i)
        if self.gateway:
            self.start_gateway()

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        checks = []
        if self.gateway:
            checks.append(("gateway", f"{self.base_url.removesuffix('/v1')}/readyz"))  # Kafka answers it
        if self.sink:
            checks.append(("sink", self.sink_url))
        if self.simulator:
            checks.append(("simulator", f"{self.simulator_url}/healthz"))
        for name, url in checks:

            def ok(url: str = url, name: str = name) -> bool:
                if not self.all_alive():
                    raise RuntimeError(f"a process exited while starting; see {self.log_dir}")
                return httpx.get(url, timeout=2).status_code == 200

            wait_until(ok, timeout_s, name)
        if not self.all_alive():
            raise RuntimeError(f"a process exited while starting; see {self.log_dir}")
        if self.workers:
            # a worker joining after traffic began would rebalance the group mid-request
            kafka = self.config.kafka
            problem = wait_for_group(kafka.bootstrap, kafka.consumer_group, self.workers, timeout_s)
            if problem:
                raise RuntimeError(f"{problem}; see {self.log_dir}")
            web_port = self.config.topology.web_port
            if web_port is not None:  # each worker joined, with its state loaded
                for i in range(self.workers):
                    url = f"http://127.0.0.1:{web_port + i}/readyz"
                    wait_until(lambda url=url: httpx.get(url, timeout=2).status_code == 200, timeout_s, f"worker {i}")

    def all_alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.processes.clear()
        if self.delete_topics_on_stop:
            delete_topics(self.config.kafka)

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
