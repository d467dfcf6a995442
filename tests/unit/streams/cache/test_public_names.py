"""Every name a cache module exports exists, once."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "streams.cache.bench_lookup",
    "streams.cache.compare_embedders",
    "streams.cache.edge_store",
    "streams.cache.embedders",
    "streams.cache.guards",
    "streams.cache.lexicon",
    "streams.cache.qdrant_store",
    "streams.cache.semantic",
    "streams.cache.store",
    "streams.cache.wordpiece",
    "turnout.cache_eval",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported, name
    assert [n for n in exported if not hasattr(module, n)] == []
    assert len(set(exported)) == len(exported)
