"""LiteLLM's proxy in its own virtual environment: install once, configure, start, stop.

The proxy never shares Turnout's environment (their pins conflict, and a fair comparison runs each
with its own dependencies). The venv lives under ``.cache/bench/litellm-venv``; a marker file names
the installed version, so a second run reuses it. Everything it is started with keeps it offline:
the bundled model cost map (``LITELLM_LOCAL_MODEL_COST_MAP``), no database, no telemetry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LITELLM_VERSION",
    "LiteLLMEnv",
    "LiteLLMRoute",
    "litellm_config",
    "offline_env",
]

LITELLM_VERSION = "1.102.4"
"""Pinned. ``pip index versions litellm`` lists 1.109.1 as the newest, but the later releases tried
(1.103.11, 1.106.10, 1.108.11, 1.109.1) require certifi>=2026.10.19, which the package index does
not have; 1.102.4 installs."""
MASTER_KEY = "sk-bench-litellm"
WORKER_HEALTHCHECK_S = 60
"""uvicorn's worker health-check timeout for LiteLLM with several workers (its default: 5 s)."""


@dataclass(frozen=True, slots=True)
class LiteLLMRoute:
    """A model name clients call, and the simulator model it maps to."""

    name: str
    upstream_model: str


def litellm_config(routes: list[LiteLLMRoute], simulator_url: str) -> dict[str, Any]:
    """The proxy's ``config.yaml`` as a dict: every route an OpenAI-compatible upstream at the simulator."""
    return {
        "model_list": [
            {
                "model_name": route.name,
                "litellm_params": {
                    "model": f"openai/{route.upstream_model}",
                    "api_base": f"{simulator_url.rstrip('/')}/v1",
                    "api_key": "x",
                },
            }
            for route in routes
        ],
        "litellm_settings": {
            "telemetry": False,
            "drop_params": True,
            "request_timeout": 60,
            "num_retries": 0,
            "set_verbose": False,
            "json_logs": False,
        },
        "general_settings": {
            "master_key": MASTER_KEY,
            "disable_spend_logs": True,
            "disable_error_logs": True,
            "disable_adding_master_key_hash_to_db": True,
        },
    }


def offline_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the proxy runs with: local cost map, no database, no telemetry, quiet logs."""
    env = dict(os.environ if base is None else base)
    for name in ("DATABASE_URL", "LITELLM_LICENSE", "REDIS_HOST", "REDIS_URL", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY="False",
        LITELLM_LOG="ERROR",
        LITELLM_MODE="PRODUCTION",
        DISABLE_SCHEMA_UPDATE="True",
        ANONYMIZED_TELEMETRY="False",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    return env


class LiteLLMEnv:
    """The venv holding LiteLLM's proxy; :meth:`ensure` installs it when missing."""

    def __init__(self, root: Path, version: str = LITELLM_VERSION, python: str = "python3.11") -> None:
        self.root = root.resolve()
        self.version = version
        self.python = python

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def marker(self) -> Path:
        return self.root / f".installed-litellm-{self.version}"

    def installed(self) -> bool:
        return self.marker.exists() and (self.bin / "litellm").exists()

    def ensure(self, log: Path) -> None:
        """Create the venv and ``pip install 'litellm[proxy]==VERSION'`` unless already done."""
        if self.installed():
            return
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"bench: installing litellm[proxy]=={self.version} into {self.root} (once) ...", flush=True)
        started = time.monotonic()
        with log.open("ab") as out:
            if not (self.bin / "python").exists():
                subprocess.run([self.python, "-m", "venv", str(self.root)], check=True, stdout=out, stderr=out)
            pip = [str(self.bin / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
            subprocess.run([*pip, "--upgrade", "pip"], check=True, stdout=out, stderr=out)
            subprocess.run([*pip, f"litellm[proxy]=={self.version}"], check=True, stdout=out, stderr=out)
        self.marker.write_text(self.version + "\n")
        print(f"bench: litellm installed in {time.monotonic() - started:.0f} s", flush=True)

    def size_bytes(self) -> int:
        """Bytes on disk of the whole venv."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file() and not p.is_symlink())

    def spawn(
        self,
        config_path: Path,
        port: int,
        workers: int,
        log: Path,
        env: dict[str, str] | None = None,
        log_config: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``litellm --config ... --port ... --num_workers N`` in its own session."""
        log.parent.mkdir(parents=True, exist_ok=True)
        extra = ["--log_config", str(log_config)] if log_config is not None else []
        if workers > 1:
            # uvicorn's supervisor pings each worker and kills one that misses 5 s; on a loaded
            # 2-core machine its workers missed pings and were restarted mid-run, costing LiteLLM
            # throughput that is not its own. A worker that is alive is left alone for a minute.
            extra += ["--timeout_worker_healthcheck", str(WORKER_HEALTHCHECK_S)]
        with log.open("ab") as out:
            return subprocess.Popen(
                [
                    str(self.bin / "litellm"),
                    "--config",
                    str(config_path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--num_workers",
                    str(workers),
                    *extra,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=offline_env(env),
                start_new_session=True,
                cwd=str(config_path.parent),
            )


def write_config(path: Path, routes: list[LiteLLMRoute], simulator_url: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(litellm_config(routes, simulator_url), sort_keys=False))
    return path


if __name__ == "__main__":  # python -m bench.litellm_env: install only
    env = LiteLLMEnv(Path(".cache/bench/litellm-venv"))
    env.ensure(Path(".cache/bench/litellm-install.log"))
    print(f"{env.root}: {env.size_bytes() / 1e6:.0f} MB", file=sys.stderr)
