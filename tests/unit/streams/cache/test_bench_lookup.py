"""The lookup benchmark runs end to end on a small store (its figures are reported, never asserted)."""

from __future__ import annotations

import json

import pytest

from streams.cache.bench_lookup import QUESTIONS, bench_size, main
from streams.cache.embedders import MiniLMEmbedder


def test_a_small_run_reports_every_figure(minilm: MiniLMEmbedder) -> None:
    result = bench_size(minilm, entries=300, tenants=10, rounds=1, optimize=False)
    assert result["entries"] == 300 + len(QUESTIONS)
    assert result["entries_in_tenant"] == 30 + len(QUESTIONS)
    assert result["lookups"] == len(QUESTIONS)
    assert result["hit_rate"] == 1.0  # every paraphrase of a stored question passes the guards
    for figure in ("embed_ms", "search_ms", "lookup_ms"):
        assert set(result[figure]) == {"p50", "p99", "max"}


def test_the_command_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--entries", "50", "--tenants", "5", "--rounds", "1", "--no-optimize"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [size["entries"] for size in printed["sizes"]] == [50 + len(QUESTIONS)]
