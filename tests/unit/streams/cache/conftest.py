"""The embedder (loaded once per session), a word-hashing embedder for pure tests, and both vector stores."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator

import pytest
from qdrant_client import QdrantClient

from streams.cache.edge_store import EdgeVectorStore
from streams.cache.embedders import MiniLMEmbedder
from streams.cache.qdrant_store import QdrantServerStore
from streams.cache.store import VectorStore

StoreFactory = Callable[[int], VectorStore]


class WordHashEmbedder:
    """Bag of words hashed into ``dim`` buckets: equal texts meet at 1.0, shared words count, nothing to load."""

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: list[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vector = [0.0] * self._dim
            for word in text.lower().replace("?", " ").split():
                vector[zlib.crc32(word.encode()) % self._dim] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out


@pytest.fixture(scope="session")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
def word_embedder() -> WordHashEmbedder:
    return WordHashEmbedder()


@pytest.fixture(params=["edge", "qdrant-client"])
def make_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """A factory for empty stores of one implementation; each test runs once per implementation."""
    opened: list[EdgeVectorStore] = []

    def make(dim: int) -> VectorStore:
        if request.param == "edge":
            store = EdgeVectorStore.temporary(dim)
            opened.append(store)
            return store
        return QdrantServerStore(QdrantClient(":memory:"), "cache", dim)

    yield make
    for store in opened:
        store.close()
