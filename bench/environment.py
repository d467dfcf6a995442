"""What the results were measured on: the machine and the versions of everything involved."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

__all__ = ["kafka_broker_version", "machine_info", "services_problem", "versions"]


def _cpu_model(cpuinfo: str) -> str | None:
    for line in cpuinfo.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def _mem_total_gb(meminfo: str) -> float | None:
    match = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    return round(int(match.group(1)) / 1024 / 1024, 1) if match else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(_read("/proc/cpuinfo")),
        "cores": os.cpu_count(),
        "memory_gb": _mem_total_gb(_read("/proc/meminfo")),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def kafka_broker_version(pom: Path) -> str | None:
    """``<kafka.version>`` of ``services/kafka/pom.xml`` (the jars the services script runs)."""
    try:
        match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text())
    except OSError:
        return None
    return match.group(1).strip() if match else None


def _dist(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _command_output(*argv: str) -> str | None:
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def versions(root: Path, litellm_python: Path | None) -> dict[str, Any]:
    try:
        import confluent_kafka

        librdkafka: str | None = confluent_kafka.libversion()[0]
    except ImportError:
        librdkafka = None
    litellm = None
    if litellm_python is not None and litellm_python.exists():
        litellm = _command_output(
            str(litellm_python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"
        )
    return {
        "turnout": _dist("turnout"),
        "faust-streaming": _dist("faust-streaming"),
        "aiokafka": _dist("aiokafka"),
        "confluent-kafka": _dist("confluent-kafka"),
        "librdkafka": librdkafka,
        "kafka_broker": kafka_broker_version(root / "services" / "kafka" / "pom.xml"),
        "redis_server": _command_output("redis-server", "--version"),
        "java": _command_output("java", "-version"),
        "uvicorn": _dist("uvicorn"),
        "httpx": _dist("httpx"),
        "uvloop": _dist("uvloop"),
        "litellm": litellm,
    }


def services_problem(config: dict[str, Any]) -> str | None:
    """Why Kafka or Redis of ``config`` cannot be reached, or ``None`` when both answer."""
    redis = urlparse(config["redis"]["url"])
    for what, host, port in (
        ("Kafka", *config["kafka"]["bootstrap"].split(",")[0].rsplit(":", 1)),
        ("Redis", redis.hostname or "127.0.0.1", str(redis.port or 6379)),
    ):
        try:
            with socket.create_connection((host, int(port)), timeout=2):
                pass
        except OSError:
            return f"{what} is not reachable at {host}:{port}"
    return None
