"""The semantic cache's vectors in Qdrant's embedded engine (``qdrant-edge-py``), inside this process.

One shard in a directory: an HNSW index over the vectors and keyword payload indexes on the scope
fields, the tenant field marked as the tenant key so that a filtered search looks at that tenant's
points only. New points land in an appendable segment that is searched exactly (with the filter
applied through the payload index); :meth:`EdgeVectorStore.optimize` builds the HNSW index over them,
which the owner runs now and then (after a batch of writes, or on a timer), never on the lookup path.
A shard directory belongs to one process at a time: each worker keeps its own, or they share a Qdrant
server through :class:`streams.cache.qdrant_store.QdrantServerStore`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import qdrant_edge as qe

from streams.cache.store import Payload, VectorHit

__all__ = ["DEFAULT_HNSW_EF", "SCOPE_FIELDS", "EdgeVectorStore"]

SCOPE_FIELDS = ("tenant", "model", "params", "namespace")
DEFAULT_HNSW_EF = 128


def _filter(filter: Mapping[str, str]) -> qe.Filter | None:
    if not filter:
        return None
    return qe.Filter(must=[qe.FieldCondition(key=key, match=qe.MatchValue(value)) for key, value in filter.items()])


class EdgeVectorStore:
    """A :class:`streams.cache.store.VectorStore` on one embedded Qdrant shard at ``path``."""

    def __init__(
        self,
        path: Path,
        dim: int,
        keyword_fields: tuple[str, ...] = SCOPE_FIELDS,
        tenant_field: str = "tenant",
        hnsw_m: int = 16,
        ef_construct: int = 100,
        hnsw_ef: int = DEFAULT_HNSW_EF,
    ) -> None:
        self.path = Path(path)
        self.dim = dim
        self._temporary: Path | None = None
        self._params = qe.SearchParams(hnsw_ef=hnsw_ef)
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine),
            hnsw_config=qe.HnswIndexConfig(m=hnsw_m, ef_construct=ef_construct, full_scan_threshold=10_000),
        )
        if self.path.is_dir() and any(self.path.iterdir()):
            self._shard = qe.EdgeShard.load(str(self.path), config)  # refuses a shard of another size
            return
        self._shard = qe.EdgeShard.create(str(self.path), config)
        for field in keyword_fields:
            params = qe.KeywordIndexParams(is_tenant=field == tenant_field)
            self._shard.update(qe.UpdateOperation.create_field_index(field, params))

    @classmethod
    def temporary(cls, dim: int, hnsw_ef: int = DEFAULT_HNSW_EF) -> EdgeVectorStore:
        """A store in a fresh temporary directory, removed again by :meth:`close` (tests, evals, benchmarks)."""
        directory = Path(tempfile.mkdtemp(prefix="turnout-cache-"))
        store = cls(directory / "shard", dim, hnsw_ef=hnsw_ef)
        store._temporary = directory
        return store

    def upsert(self, id: str, vector: Sequence[float], payload: Payload) -> None:
        self.upsert_many([(id, vector, payload)])

    def upsert_many(self, points: Sequence[tuple[str, Sequence[float], Payload]]) -> None:
        batch = [qe.Point(id, list(vector), dict(payload)) for id, vector, payload in points]
        self._shard.update(qe.UpdateOperation.upsert_points(batch))

    def search(self, vector: Sequence[float], filter: Mapping[str, str], limit: int) -> list[VectorHit]:
        request = qe.SearchRequest(
            query=qe.Query.Nearest(list(vector)),
            limit=limit,
            filter=_filter(filter),
            params=self._params,
            with_payload=True,
        )
        return [VectorHit(str(p.id), float(p.score), dict(p.payload or {})) for p in self._shard.search(request)]

    def delete(self, id: str) -> None:
        self._shard.update(qe.UpdateOperation.delete_points([id]))

    def count(self, filter: Mapping[str, str] | None = None) -> int:
        return int(self._shard.count(qe.CountRequest(exact=True, filter=_filter(filter or {}))))

    def optimize(self) -> bool:
        """Build the HNSW index over what was written since the last call (blocking; seconds per 10k points)."""
        return bool(self._shard.optimize())

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.close()
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
