"""``python -m streams.cache.bench_lookup``: semantic-cache lookup latency in the embedded store, as JSON.

For each size it fills an :class:`EdgeVectorStore` with synthetic entries (random unit vectors spread over
``--tenants`` tenants), adds the real embeddings of a few dozen questions to the measured tenant, builds
the HNSW index, and then times, per query, with a tenant filter:

- ``embed_ms``: the MiniLM embedding of the query text;
- ``search_ms``: the filtered nearest-neighbour search alone;
- ``lookup_ms``: :meth:`SemanticCache.probe` end to end (embedding, search, scope and expiry checks,
  guards), on paraphrases of the stored questions, so most lookups are hits that ran every guard.

Reported as p50/p99 milliseconds, with the time to insert and to build the index. Nothing here is asserted;
the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from streams.cache.edge_store import DEFAULT_HNSW_EF, EdgeVectorStore
from streams.cache.embedders import MiniLMEmbedder
from streams.cache.semantic import CacheScope, SemanticCache
from streams.cache.store import Payload

__all__ = ["QUESTIONS", "bench_size", "main"]

# (stored question, a paraphrase to look up)
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("How do I reset my password?", "what's the way to reset my password"),
    ("What is the capital of Australia?", "capital city of australia?"),
    ("How do I reverse a list in Python?", "python reverse a list"),
    ("Which timezone is Chicago in?", "What time zone is Chicago in?"),
    ("How do I update my billing address?", "How can I change my billing address?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("How many days are there in a leap year?", "how many days in a leap yr"),
    ("What does HTTP status code 404 mean?", "what does a 404 status code mean in http"),
    ("Explain JavaScript closures", "Could you explain closures in JavaScript?"),
    ("What is 23 plus 17?", "What's 17 + 23?"),
    ("How do I cancel my subscription?", "how can I cancel my subscription"),
    ("What is the chemical symbol for gold?", "chemical symbol of gold"),
    ("How do I delete a local branch in git?", "git command to delete a local branch"),
    ("What's the tallest mountain in the world?", "tallest mountain on earth"),
    ("How do I center a div with CSS?", "css center a div"),
    ("What is the population of Canada?", "population of canada"),
    ("How do I take a screenshot on Windows 11?", "windows 11 screenshot how"),
    ("What are the symptoms of dehydration?", "symptoms of being dehydrated"),
    ("Do you ship internationally?", "do you offer international shipping"),
    ("Is there a student discount?", "do you have a student discount"),
)


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = np.sort(np.asarray(values))
    return {
        "p50": round(float(np.percentile(ordered, 50)), 3),
        "p99": round(float(np.percentile(ordered, 99)), 3),
        "max": round(float(ordered[-1]), 3),
    }


def _fill(store: EdgeVectorStore, entries: int, tenants: int, dim: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    batch = 2000
    for start in range(0, entries, batch):
        count = min(batch, entries - start)
        vectors = rng.standard_normal((count, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        points: list[tuple[str, Sequence[float], Payload]] = []
        for offset, vector in enumerate(vectors):
            n = start + offset
            payload: dict[str, str | float] = {
                "tenant": f"tenant-{n % tenants}",
                "model": "smart-chat",
                "params": "p",
                "namespace": "default",
                "query": f"synthetic question {n}",
                "answer": f"synthetic answer {n}",
                "created_at": 0.0,
                "expires_at": 1e12,
            }
            points.append((str(uuid.UUID(int=n + 1)), vector.tolist(), payload))
        store.upsert_many(points)
    return time.perf_counter() - started


def bench_size(
    embedder: MiniLMEmbedder,
    entries: int,
    tenants: int = 100,
    rounds: int = 5,
    optimize: bool = True,
    hnsw_ef: int = DEFAULT_HNSW_EF,
) -> dict[str, Any]:
    """Fill a store with ``entries`` points and time embedding, search and lookup in one tenant."""
    store = EdgeVectorStore.temporary(embedder.dim, hnsw_ef=hnsw_ef)
    try:
        insert_s = _fill(store, entries, tenants, embedder.dim, seed=entries)
        scope = CacheScope(tenant=f"tenant-{7 % tenants}", model="smart-chat", params="p")
        cache = SemanticCache(embedder, store)
        for stored, _ in QUESTIONS:
            cache.store(scope, stored, f"answer to {stored}", ttl_s=1e9, now_s=0.0)
        started = time.perf_counter()
        built = store.optimize() if optimize else False
        optimize_s = time.perf_counter() - started
        now = 1.0
        cache.probe(scope, QUESTIONS[0][1], now)  # warm-up
        embed_ms, search_ms, lookup_ms = [], [], []
        hits = 0
        for _ in range(rounds):
            for _, query in QUESTIONS:
                t0 = time.perf_counter()
                vector = embedder.embed([query])[0]
                t1 = time.perf_counter()
                store.search(vector, scope.filter(), 4)
                t2 = time.perf_counter()
                probe = cache.probe(scope, query, now)
                hits += probe.hit is not None
                embed_ms.append((t1 - t0) * 1000)
                search_ms.append((t2 - t1) * 1000)
                lookup_ms.append(probe.elapsed_ms)
        return {
            "entries": store.count(),
            "tenants": tenants,
            "hnsw_ef": hnsw_ef,
            "entries_in_tenant": store.count(scope.filter()),
            "insert_s": round(insert_s, 2),
            "hnsw_built": built,
            "optimize_s": round(optimize_s, 2),
            "lookups": len(lookup_ms),
            "hit_rate": round(hits / len(lookup_ms), 3),
            "embed_ms": _percentiles(embed_ms),
            "search_ms": _percentiles(search_ms),
            "lookup_ms": _percentiles(lookup_ms),
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.cache.bench_lookup", description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="passes over the query list per size")
    parser.add_argument("--no-optimize", action="store_true", help="search the unindexed segment (exact)")
    parser.add_argument("--hnsw-ef", type=int, default=DEFAULT_HNSW_EF)
    args = parser.parse_args(argv)
    embedder = MiniLMEmbedder()
    results = [
        bench_size(embedder, n, args.tenants, args.rounds, not args.no_optimize, args.hnsw_ef) for n in args.entries
    ]
    json.dump({"embedder": type(embedder).__name__, "store": "qdrant-edge", "sizes": results}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
