"""The vector store the semantic cache searches: the :class:`VectorStore` protocol and its hit type.

Two implementations, one behaviour (``tests/unit/streams/cache/test_stores.py`` runs the same tests on
both): :class:`streams.cache.edge_store.EdgeVectorStore`, Qdrant's embedded engine in this process, for
one machine; and :class:`streams.cache.qdrant_store.QdrantServerStore`, a Qdrant server through
``qdrant-client``. Ids are UUID strings, vectors L2-normalised, scores cosine similarities (higher is
closer). A filter is exact equality on payload fields, all of them at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = ["Payload", "VectorHit", "VectorStore"]

Payload = Mapping[str, str | int | float]


class VectorHit(NamedTuple):
    id: str
    score: float
    payload: dict[str, Any]


@runtime_checkable
class VectorStore(Protocol):
    def upsert(self, id: str, vector: Sequence[float], payload: Payload) -> None:
        """Insert the point, or replace the one with this id."""
        ...

    def search(self, vector: Sequence[float], filter: Mapping[str, str], limit: int) -> list[VectorHit]:
        """The ``limit`` nearest points whose payload has every ``filter`` field equal, best first."""
        ...

    def delete(self, id: str) -> None:
        """Remove the point; a missing id is no error."""
        ...

    def count(self, filter: Mapping[str, str] | None = None) -> int:
        """How many points there are (matching ``filter``, when given)."""
        ...
