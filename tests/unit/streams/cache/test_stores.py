"""One behaviour for both vector stores: the embedded engine and qdrant-client (in its in-memory mode)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.cache.edge_store import EdgeVectorStore
from streams.cache.store import VectorStore

StoreFactory = Callable[[int], VectorStore]

pytestmark = pytest.mark.filterwarnings("ignore:Payload indexes have no effect")


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _payload(tenant: str, **extra: str | float) -> dict[str, str | float]:
    return {"tenant": tenant, "model": "m", "params": "p", **extra}


@pytest.fixture
def store(make_store: StoreFactory) -> VectorStore:
    s = make_store(4)
    s.upsert(_id(1), [1.0, 0.0, 0.0, 0.0], _payload("acme", answer="one", expires_at=10.5))
    s.upsert(_id(2), [0.8, 0.6, 0.0, 0.0], _payload("acme", answer="two"))
    s.upsert(_id(3), [1.0, 0.0, 0.0, 0.0], _payload("globex", answer="three"))
    return s


def test_a_store_is_a_vector_store(store: VectorStore) -> None:
    assert isinstance(store, VectorStore)


def test_search_returns_the_nearest_first_with_payload(store: VectorStore) -> None:
    hits = store.search([1.0, 0.1, 0.0, 0.0], {"tenant": "acme"}, limit=5)
    assert [h.id for h in hits] == [_id(1), _id(2)]
    assert hits[0].score > hits[1].score
    assert hits[0].score == pytest.approx(0.995, abs=1e-3)
    assert hits[0].payload == _payload("acme", answer="one", expires_at=10.5)


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"tenant": "acme"}, {1, 2}),
        ({"tenant": "globex"}, {3}),
        ({"tenant": "initech"}, set()),
        ({"tenant": "acme", "model": "other"}, set()),
        ({}, {1, 2, 3}),
    ],
)
def test_the_filter_is_equality_on_every_field(store: VectorStore, filter: dict[str, str], expected: set[int]) -> None:
    hits = store.search([1.0, 0.0, 0.0, 0.0], filter, limit=10)
    assert {uuid.UUID(h.id).int for h in hits} == expected
    assert store.count(filter or None) == len(expected)


def test_limit_caps_the_results(store: VectorStore) -> None:
    assert len(store.search([1.0, 0.0, 0.0, 0.0], {"tenant": "acme"}, limit=1)) == 1


def test_upsert_replaces_the_point_with_the_same_id(store: VectorStore) -> None:
    store.upsert(_id(1), [0.0, 0.0, 1.0, 0.0], _payload("acme", answer="new"))
    assert store.count() == 3
    top = store.search([0.0, 0.0, 1.0, 0.0], {"tenant": "acme"}, limit=1)[0]
    assert (top.id, top.payload["answer"]) == (_id(1), "new")


def test_delete_removes_and_ignores_missing_ids(store: VectorStore) -> None:
    store.delete(_id(1))
    store.delete(_id(99))
    assert store.count() == 2
    assert [h.id for h in store.search([1.0, 0.0, 0.0, 0.0], {"tenant": "acme"}, limit=5)] == [_id(2)]


def test_an_empty_store_finds_nothing(make_store: StoreFactory) -> None:
    empty = make_store(4)
    assert empty.search([1.0, 0.0, 0.0, 0.0], {"tenant": "acme"}, limit=3) == []
    assert empty.count() == 0


def test_the_embedded_store_keeps_its_points_across_a_restart(tmp_path: Path) -> None:
    store = EdgeVectorStore(tmp_path / "shard", 4)
    store.upsert(_id(1), [1.0, 0.0, 0.0, 0.0], _payload("acme", answer="one"))
    store.flush()
    store.close()
    again = EdgeVectorStore(tmp_path / "shard", 4)
    try:
        assert [h.payload["answer"] for h in again.search([1.0, 0.0, 0.0, 0.0], {"tenant": "acme"}, 1)] == ["one"]
    finally:
        again.close()
    with pytest.raises(Exception, match="incompatible"):
        EdgeVectorStore(tmp_path / "shard", 8)


def test_the_embedded_store_searches_the_same_after_optimize(tmp_path: Path) -> None:
    store = EdgeVectorStore.temporary(4)
    try:
        for n in range(1, 200):
            store.upsert(_id(n), [1.0, n / 200, 0.0, 0.0], _payload("acme" if n % 2 else "globex"))
        before = store.search([1.0, 0.5, 0.0, 0.0], {"tenant": "acme"}, 3)
        store.optimize()
        assert store.search([1.0, 0.5, 0.0, 0.0], {"tenant": "acme"}, 3) == before
    finally:
        store.close()
