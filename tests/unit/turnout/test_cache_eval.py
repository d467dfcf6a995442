"""``turnout eval cache``: the semantic cache meets its targets on the shared set and on our hard set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.cache.embedders import MiniLMEmbedder
from turnout.cache_eval import evaluate_cache_file, read_pairs
from turnout.cli import main

ROOT = Path(__file__).resolve().parents[3]
SHARED_SET = ROOT.parent / "shared" / "eval" / "cache-pairs.jsonl"
HARD_SET = ROOT / "tests" / "fixtures" / "eval" / "cache-hard.jsonl"

TINY = [
    {"a": "What is 23 plus 17?", "b": "What's 17 + 23?", "same": True, "kind": "paraphrase"},
    {
        "a": "What is the capital of France?",
        "b": "What is the capital of Germany?",
        "same": False,
        "kind": "near_miss_entity",
    },
    {"a": "Convert 100 USD to EUR", "b": "Convert 100 EUR to USD", "same": False, "kind": "near_miss_direction"},
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="module")
def shared_result(minilm: MiniLMEmbedder) -> dict[str, Any]:
    return evaluate_cache_file(SHARED_SET, embedder=minilm)


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_the_shared_set_meets_the_targets(shared_result: dict[str, Any]) -> None:
    assert shared_result["pairs"] == 150
    assert shared_result["mode"] == "shared"
    assert shared_result["precision"] >= 0.99
    assert shared_result["recall"] >= 0.6
    assert shared_result["false_hits"]["count"] == 0
    assert shared_result["per_kind"]["paraphrase"]["pairs"] == 60
    assert {"lookup_ms", "curve", "guard_rejections"} <= set(shared_result)
    assert {"p50", "p99"} <= set(shared_result["lookup_ms"])


def test_no_near_miss_kind_hits_on_the_shared_set(shared_result: dict[str, Any]) -> None:
    for kind, row in shared_result["per_kind"].items():
        if kind != "paraphrase":
            assert row["hits"] == 0, kind


def test_the_hard_set_meets_the_targets(minilm: MiniLMEmbedder) -> None:
    result = evaluate_cache_file(HARD_SET, embedder=minilm)
    assert result["pairs"] >= 40
    assert result["precision"] >= 0.99
    assert result["recall"] >= 0.6


def test_isolated_mode_gives_each_pair_its_own_scope(tmp_path: Path, minilm: MiniLMEmbedder) -> None:
    result = evaluate_cache_file(_write(tmp_path / "tiny.jsonl", TINY), mode="isolated", embedder=minilm)
    assert (result["precision"], result["recall"], result["hits"]) == (1.0, 1.0, 1)
    assert result["per_kind"]["near_miss_entity"]["hits"] == 0
    assert set(result["guard_rejections"]) <= {"entities_agree", "order_agrees"}


def test_the_cli_prints_the_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "tiny.jsonl", TINY)
    assert main(["eval", "cache", str(path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["pairs"] == 3
    assert printed["true_hits"] == 1


def test_a_bad_line_names_its_place(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": "x", "b": "y", "same": true}\n{"a": "x", "b": "y", "same": "yes"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        read_pairs(path)
