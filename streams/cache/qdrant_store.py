"""The semantic cache's vectors in a Qdrant server, through ``qdrant-client``.

The same behaviour as :class:`streams.cache.edge_store.EdgeVectorStore`, for production: one collection,
cosine distance, keyword payload indexes on the scope fields with the tenant field marked as the tenant
key. The client is passed in (``QdrantClient(url=...)`` in production, ``QdrantClient(":memory:")`` in the
unit tests), so this module opens no connection of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qdrant_client import QdrantClient, models

from streams.cache.store import Payload, VectorHit

__all__ = ["QdrantServerStore"]


def _filter(filter: Mapping[str, str]) -> models.Filter | None:
    if not filter:
        return None
    return models.Filter(
        must=[models.FieldCondition(key=key, match=models.MatchValue(value=value)) for key, value in filter.items()]
    )


class QdrantServerStore:
    """A :class:`streams.cache.store.VectorStore` on one collection of a Qdrant server."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        dim: int,
        keyword_fields: tuple[str, ...] = ("tenant", "model", "params", "namespace"),
        tenant_field: str = "tenant",
    ) -> None:
        self.client = client
        self.collection = collection
        self.dim = dim
        if client.collection_exists(collection):
            return
        client.create_collection(
            collection, vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
        )
        for field in keyword_fields:
            schema = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=field == tenant_field)
            client.create_payload_index(collection, field, field_schema=schema)

    def upsert(self, id: str, vector: Sequence[float], payload: Payload) -> None:
        point = models.PointStruct(id=id, vector=list(vector), payload=dict(payload))
        self.client.upsert(self.collection, points=[point])

    def search(self, vector: Sequence[float], filter: Mapping[str, str], limit: int) -> list[VectorHit]:
        response = self.client.query_points(
            self.collection, query=list(vector), query_filter=_filter(filter), limit=limit, with_payload=True
        )
        return [VectorHit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def delete(self, id: str) -> None:
        self.client.delete(self.collection, points_selector=models.PointIdsList(points=[id]))

    def count(self, filter: Mapping[str, str] | None = None) -> int:
        return int(self.client.count(self.collection, count_filter=_filter(filter or {}), exact=True).count)
