"""Running the simulator with uvicorn: in the foreground, in a thread, or from the CLI."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import uvicorn

from simulator.app import build_app
from simulator.state import SimulatorConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 18080
GRACEFUL_SHUTDOWN_S = 5
KEEP_ALIVE_S = 75
"""Idle keep-alive; long, like real providers, so pooled clients rarely race a close."""


def make_server(
    config: SimulatorConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "warning",
) -> uvicorn.Server:
    """A uvicorn server for a fresh simulator app (no access log, uvloop when available)."""
    uv_config = uvicorn.Config(
        build_app(config),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        timeout_keep_alive=KEEP_ALIVE_S,
        backlog=4096,
    )
    return uvicorn.Server(uv_config)


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    config: SimulatorConfig | None = None,
    log_level: str = "warning",
) -> None:
    """Serve the simulator in the foreground until interrupted (SIGINT/SIGTERM)."""
    make_server(config, host, port, log_level).run()


@dataclass
class RunningSimulator:
    """A simulator served by uvicorn on a background thread; stop() ends it."""

    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://host:port`` (append ``/v1`` for OpenAI clients)."""
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout_s)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    config: SimulatorConfig | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    log_level: str = "warning",
    startup_timeout_s: float = 10.0,
) -> RunningSimulator:
    """Start a simulator on a background thread; ``port=0`` picks a free port.

    Returns once uvicorn reports it has started; raises RuntimeError if it does
    not within ``startup_timeout_s``.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = make_server(config, host, bound_port, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"simulator did not start on {host}:{bound_port}")
        time.sleep(0.01)
    return RunningSimulator(server, thread, host, bound_port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Turnout provider simulator (OpenAI chat-completions wire format).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="model to list in GET /v1/models (repeatable)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m simulator --host 127.0.0.1 --port 18080``."""
    args = _parser().parse_args(argv)
    config = SimulatorConfig(models=tuple(args.models)) if args.models else None
    serve(args.host, args.port, config, args.log_level)
    return 0
