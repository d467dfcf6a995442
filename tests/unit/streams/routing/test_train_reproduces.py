"""Training is reproducible: retraining on the shipped data gives the shipped model file, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.routing.classifier import DEFAULT_MODEL_PATH, ComplexityModel
from streams.routing.train_complexity import DEFAULT_DATA_PATH, TARGET_RECALL, read_examples, train_file

EVAL_SET = Path(__file__).resolve().parents[4].parent / "shared" / "eval" / "route-prompts.jsonl"


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "complexity_model.json"
    train_file(DEFAULT_DATA_PATH, out)
    return out


def test_retraining_reproduces_the_shipped_file(retrained: Path) -> None:
    assert retrained.read_bytes() == DEFAULT_MODEL_PATH.read_bytes()


def test_the_training_set_is_large_balanced_and_not_the_eval_set() -> None:
    rows = [json.loads(line) for line in DEFAULT_DATA_PATH.read_text().splitlines() if line.strip()]
    labels = [r["label"] for r in rows]
    assert len(rows) >= 300
    assert labels.count("simple") == labels.count("complex")
    prompts = [r["prompt"] for r in rows]
    assert len(set(prompts)) == len(prompts)
    held_out = {json.loads(line)["prompt"] for line in EVAL_SET.read_text().splitlines() if line.strip()}
    assert not held_out & set(prompts)


def test_the_shipped_threshold_keeps_complex_recall_on_the_training_data() -> None:
    model = ComplexityModel.load()
    examples = read_examples(DEFAULT_DATA_PATH)
    complex_ = [e for e in examples if e.complex]
    hits = sum(model.score(e.messages, tools=e.tools, max_tokens=e.max_tokens) >= model.threshold for e in complex_)
    assert hits / len(complex_) >= TARGET_RECALL


def test_a_bad_label_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "hi", "label": "easy"}\n')
    with pytest.raises(ValueError, match=r"train\.jsonl:1: label"):
        read_examples(data)
