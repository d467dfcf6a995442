"""``turnout eval cache FILE.jsonl``: the semantic cache's precision, recall and lookup latency on labelled pairs.

Each line is ``{"a": ..., "b": ..., "same": true|false, "kind": ...}``; ``same`` says whether a correct answer
to ``a`` also answers ``b``. The real cache path runs: the bundled MiniLM embedder, the embedded Qdrant
store and the near-miss guards. In the default ``shared`` mode every ``a`` is stored in one scope first and
then every ``b`` is looked up against all of them, so a lookup can also land on another pair's ``a``: such a
hit counts as a false hit (nobody labelled it), which makes the set harder than pair by pair. ``isolated``
gives each pair a scope of its own.

Precision is true hits over all hits; recall is true hits over the ``same`` pairs. ``curve`` repeats both at
other thresholds (a lookup at threshold ``t`` returns the best candidate that passes the guards if its
similarity is at least ``t``, so one pass gives every point). ``lookup_ms`` is embedding, search and
guards together, per lookup.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streams.cache.edge_store import EdgeVectorStore
from streams.cache.embedders import Embedder, MiniLMEmbedder
from streams.cache.semantic import DEFAULT_THRESHOLD, CacheProbe, CacheScope, SemanticCache

__all__ = ["CURVE_THRESHOLDS", "LabelledPair", "evaluate_cache_file", "read_pairs"]

CURVE_THRESHOLDS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.97)
_TTL_S = 3600.0
_NOW_S = 1_000_000.0
_EXAMPLES = 10

EvalMode = Literal["shared", "isolated"]


@dataclass(frozen=True)
class LabelledPair:
    a: str
    b: str
    same: bool
    kind: str


def read_pairs(path: Path) -> list[LabelledPair]:
    pairs = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("same"), bool) or not row.get("a") or not row.get("b"):
            raise ValueError(f"{path}:{number}: needs 'a', 'b' and a boolean 'same'")
        pairs.append(LabelledPair(a=str(row["a"]), b=str(row["b"]), same=row["same"], kind=str(row.get("kind", "-"))))
    return pairs


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def _scope(mode: EvalMode, index: int) -> CacheScope:
    return CacheScope(tenant="eval", model="eval-model", params="shared" if mode == "shared" else f"pair-{index}")


@dataclass(frozen=True)
class _Outcome:
    pair: LabelledPair
    probe: CacheProbe
    correct: bool  # the hit, if any, is this pair's own a and the pair is labelled same


def _run(pairs: list[LabelledPair], cache: SemanticCache, mode: EvalMode) -> list[_Outcome]:
    for index, pair in enumerate(pairs):
        cache.store(_scope(mode, index), pair.a, f"answer to: {pair.a}", _TTL_S, _NOW_S)
    cache.probe(_scope(mode, 0), pairs[0].b, _NOW_S, threshold=-1.0)  # warm-up, not timed
    outcomes = []
    for index, pair in enumerate(pairs):
        probe = cache.probe(_scope(mode, index), pair.b, _NOW_S, threshold=-1.0)
        correct = probe.hit is not None and pair.same and probe.hit.query == pair.a
        outcomes.append(_Outcome(pair=pair, probe=probe, correct=correct))
    return outcomes


def _scores(outcomes: list[_Outcome], threshold: float) -> dict[str, Any]:
    hits = [o for o in outcomes if o.probe.hit is not None and o.probe.hit.similarity >= threshold]
    true_hits = sum(1 for o in hits if o.correct)
    same = sum(1 for o in outcomes if o.pair.same)
    return {
        "threshold": threshold,
        "precision": round(true_hits / len(hits), 4) if hits else None,
        "recall": round(true_hits / same, 4) if same else None,
        "hits": len(hits),
        "false_hits": len(hits) - true_hits,
    }


def evaluate_cache_file(
    path: Path,
    *,
    mode: EvalMode = "shared",
    threshold: float = DEFAULT_THRESHOLD,
    embedder: Embedder | None = None,
    curve: tuple[float, ...] = CURVE_THRESHOLDS,
) -> dict[str, Any]:
    """Store every ``a``, look up every ``b`` and report precision, recall, false hits and lookup latency."""
    pairs = read_pairs(Path(path))
    if not pairs:
        raise ValueError(f"{path}: no labelled pairs")
    embedder = embedder or MiniLMEmbedder()
    store = EdgeVectorStore.temporary(embedder.dim)
    try:
        outcomes = _run(pairs, SemanticCache(embedder, store, threshold=threshold), mode)
    finally:
        store.close()
    summary = _scores(outcomes, threshold)
    hits = [o for o in outcomes if o.probe.hit is not None and o.probe.hit.similarity >= threshold]
    false = [o for o in hits if not o.correct]
    rejections: Counter[str] = Counter()
    for o in outcomes:
        rejections.update(reason for score, reason in o.probe.rejected if score >= threshold)
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in sorted({o.pair.kind for o in outcomes}):
        mine = [o for o in outcomes if o.pair.kind == kind]
        kind_hits = [o for o in hits if o.pair.kind == kind]
        per_kind[kind] = {
            "pairs": len(mine),
            "hits": len(kind_hits),
            "false_hits": sum(1 for o in kind_hits if not o.correct),
            "hit_rate": round(len(kind_hits) / len(mine), 4),
        }
    latencies = [o.probe.elapsed_ms for o in outcomes]
    return {
        "file": str(path),
        "pairs": len(pairs),
        "mode": mode,
        "threshold": threshold,
        "embedder": type(embedder).__name__,
        "precision": summary["precision"],
        "recall": summary["recall"],
        "hits": summary["hits"],
        "true_hits": summary["hits"] - summary["false_hits"],
        "false_hits": {
            "count": len(false),
            "per_kind": dict(Counter(o.pair.kind for o in false)),
            "examples": [
                {
                    "kind": o.pair.kind,
                    "query": o.pair.b,
                    "matched": o.probe.hit.query,
                    "similarity": round(o.probe.hit.similarity, 4),
                }
                for o in false[:_EXAMPLES]
                if o.probe.hit is not None
            ],
        },
        "per_kind": per_kind,
        "guard_rejections": dict(rejections.most_common()),
        "curve": [_scores(outcomes, t) for t in curve],
        "lookup_ms": {
            "p50": round(_percentile(latencies, 0.50), 3),
            "p99": round(_percentile(latencies, 0.99), 3),
            "mean": round(sum(latencies) / len(latencies), 3),
        },
    }
