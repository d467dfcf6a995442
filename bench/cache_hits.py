"""The response cache through the gateway: what a miss, an exact hit and a semantic hit take, end to end.

    make up && python -m bench.cache_hits [--questions 200] [--workers 2]

Starts the example stack (sink, workers, gateway, simulator) on fresh topics, then, one request at a
time over HTTP: each question once (a miss: the provider simulator answers at its default latency),
each again (an exact hit), and each paraphrased (a semantic hit, or a miss where a guard refused or the
similarity fell short: counted). Prints JSON with p50/p99/max in ms per kind and the hit counts. The
lookup alone (embedding plus search at 10k and 100k entries) is ``python -m streams.cache.bench_lookup``.
A measurement to report, never an assertion.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.systems import free_port
from schemas.config import load_config
from turnout.stack import Stack, wait_until

ROOT = Path(__file__).resolve().parent.parent
MODEL = "faq-chat"
COUNTRIES = [
    "France",
    "Germany",
    "Spain",
    "Italy",
    "Portugal",
    "Norway",
    "Sweden",
    "Finland",
    "Poland",
    "Austria",
    "Hungary",
    "Greece",
    "Turkey",
    "Egypt",
    "Kenya",
    "Nigeria",
    "Ghana",
    "Morocco",
    "Brazil",
    "Argentina",
    "Chile",
    "Peru",
    "Colombia",
    "Mexico",
    "Canada",
    "Japan",
    "China",
    "India",
    "Vietnam",
    "Thailand",
    "Indonesia",
    "Australia",
    "Ireland",
    "Denmark",
    "Belgium",
    "Netherlands",
    "Switzerland",
    "Romania",
    "Bulgaria",
    "Ukraine",
]


def questions(count: int) -> list[tuple[str, str]]:
    """(question, paraphrase) pairs; a number in each keeps them apart, and the guards check numbers agree."""
    pairs = []
    for i in range(count):
        country = COUNTRIES[i % len(COUNTRIES)]
        pairs.append(
            (f"What is the capital of {country}? (ticket {i})", f"Tell me the capital of {country}. (ticket {i})")
        )
    return pairs


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    ordered = sorted(values_ms)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def _config(tmp: Path) -> Path:
    data = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    prefix = f"bc{uuid.uuid4().hex[:8]}"
    data["gateway"]["port"] = free_port()
    data["kafka"].update(topic_prefix=prefix, consumer_group=f"{prefix}-stages")
    data["clickhouse"]["dsn"] = f"chdb://{tmp / 'clickhouse'}"
    data["sink"]["query_port"] = free_port()
    path = tmp / "turnout.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def measure(count: int, workers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="turnout-bench-cache-") as tmp:
        path = _config(Path(tmp))
        config = load_config(path)
        with Stack(path, config, workers=workers, simulator=True, delete_topics_on_stop=True) as stack:
            stack.wait_ready()
            client = httpx.Client(
                base_url=stack.base_url, headers={"authorization": "Bearer sk-turnout-demo"}, timeout=30
            )

            def ask(text: str, headers: dict[str, str] | None = None) -> tuple[float, str]:
                body = {"model": MODEL, "temperature": 0, "messages": [{"role": "user", "content": text}]}
                started = time.perf_counter()
                response = client.post("/chat/completions", json=body, headers=headers or {})
                elapsed = (time.perf_counter() - started) * 1000
                response.raise_for_status()
                return elapsed, response.headers.get("x-turnout-cache", "")

            pairs = questions(count)
            for i in range(5):  # warm-up: connections, the embedder's first calls
                ask(f"warm-up question {i}?", {"cache-control": "no-store"})
            misses = [ask(q)[0] for q, _ in pairs]
            last = pairs[-1][1]  # the writer stores off the request path: wait until every worker has the
            # last entry (the partition a request lands on, so the worker, is random: 8 hits in a row)
            wait_until(
                lambda: all(ask(last, {"cache-control": "no-store"})[1] == "hit" for _ in range(8)),
                30,
                "the last entry",
            )
            exact = [ask(q, {"cache-control": "no-store"}) for q, _ in pairs]
            semantic = [ask(p, {"cache-control": "no-store"}) for _, p in pairs]
            client.close()
    return {
        "questions": count,
        "workers": workers,
        "miss": _percentiles(misses),
        "exact_hit": _percentiles([ms for ms, status in exact if status == "hit"]),
        "exact_hits": sum(status == "hit" for _, status in exact),
        "semantic_hit": _percentiles([ms for ms, status in semantic if status == "hit"]),
        "semantic_hits": sum(status == "hit" for _, status in semantic),
        "semantic_misses_ms": _percentiles([ms for ms, status in semantic if status != "hit"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_hits", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.questions, args.workers), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
