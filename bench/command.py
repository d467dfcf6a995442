"""Command-line options of the benchmark for ``python -m bench``; ``turnout bench`` declares the same
options in ``turnout/cli.py`` (so that the ``turnout`` command does not import this package) and calls
:func:`run_from_args`."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["DEFAULT_OUT", "ROOT", "add_arguments", "main", "run_from_args"]

ROOT = Path(__file__).resolve().parent.parent
"""The repository: config/turnout.yaml, services/kafka/pom.xml, .run/*.pid, .cache/bench."""
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a short smoke run (figures are not results)")
    parser.add_argument("--out", type=Path, help="the JSON results (default bench/results/latest.json)")
    parser.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out (no install, no comparison)")
    parser.add_argument("--client", choices=["raw", "httpx"], help="the load generator's HTTP client (default raw)")
    parser.add_argument("--open-rate", type=float, help="requests per second of the open-loop cells")
    parser.add_argument(
        "--litellm-workers", help="comma-separated --num_workers settings of LiteLLM (default: 1 and the cores)"
    )
    parser.add_argument("--turnout-workers", type=int, help="worker processes per Turnout stack (default 2)")
    parser.add_argument("--partitions", type=int, help="partitions of Turnout's topics (default: the config's)")


def run_from_args(args: argparse.Namespace) -> int:
    from bench.harness import BenchOptions, run_bench

    options = BenchOptions(
        root=ROOT,
        out=args.out or DEFAULT_OUT,
        quick=args.quick,
        litellm=not args.no_litellm,
        client=args.client,
        open_rate=args.open_rate,
        litellm_workers=_workers(getattr(args, "litellm_workers", None)),
        turnout_workers=getattr(args, "turnout_workers", None),
        partitions=getattr(args, "partitions", None),
    )
    return run_bench(options)


def _workers(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    return tuple(sorted({int(part) for part in text.split(",") if part.strip()}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Turnout's benchmark (bench/README.md).")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
