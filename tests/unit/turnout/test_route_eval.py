"""``turnout eval route``: the router on the shared held-out set, and the cost arithmetic on a tiny file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from schemas.config import TurnoutConfig, load_config
from turnout.cli import main
from turnout.route_eval import evaluate_route_file

ROOT = Path(__file__).resolve().parents[3]
SHARED_SET = ROOT.parent / "shared" / "eval" / "route-prompts.jsonl"
CONFIG = ROOT / "config" / "turnout.yaml"

TINY = [
    ("Hi there!", "simple"),
    ("What's the capital of Chile?", "simple"),
    ("Prove that there are infinitely many primes of the form 4k + 3.", "complex"),
]


@pytest.fixture(scope="module")
def config() -> TurnoutConfig:
    return load_config(CONFIG)


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("".join(json.dumps({"prompt": p, "label": label}) + "\n" for p, label in rows))
    return path


def _cost(prompt: str, input_price: float, output_price: float) -> float:
    return ((math.ceil(len(prompt) / 4) + 4) * input_price + 300 * output_price) / 1e6


def test_the_shared_set_meets_the_targets(config: TurnoutConfig) -> None:
    result = evaluate_route_file(SHARED_SET, config)
    assert result["cases"] == 120
    assert result["complex_to_large"] >= 0.97
    assert result["simple_to_small"] >= 0.80
    assert result["cost_saving"] > 0.3
    assert result["decision_us"]["p99"] < 1000
    assert {"accuracy", "large_share", "cost_assumptions", "decision_us"} <= set(result)


@pytest.mark.parametrize("cheap_prices", [None, (1.0, 2.0)])
def test_cost_saving_comes_from_the_config_prices(
    tmp_path: Path, config: TurnoutConfig, cheap_prices: tuple[float, float] | None
) -> None:
    if cheap_prices is not None:
        cheap_name = config.models["best-cheap-chat"].deployments[0]
        cheap = config.deployments[cheap_name].model_copy(
            update={"input_usd_per_mtok": cheap_prices[0], "output_usd_per_mtok": cheap_prices[1]}
        )
        config = config.model_copy(update={"deployments": {**config.deployments, cheap_name: cheap}})
    large = config.deployments[config.models["smart-chat"].deployments[0]]
    small = config.deployments[config.models["best-cheap-chat"].deployments[0]]
    result = evaluate_route_file(_write(tmp_path / "tiny.jsonl", TINY), config)

    routed = sum(
        _cost(p, large.input_usd_per_mtok, large.output_usd_per_mtok)
        if label == "complex"
        else _cost(p, small.input_usd_per_mtok, small.output_usd_per_mtok)
        for p, label in TINY
    )
    always_large = sum(_cost(p, large.input_usd_per_mtok, large.output_usd_per_mtok) for p, _ in TINY)
    assert result["accuracy"] == 1.0
    assert result["large_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["cost_saving"] == pytest.approx(1 - routed / always_large, abs=1e-4)
    assert result["cost_assumptions"]["small"]["input_usd_per_mtok"] == small.input_usd_per_mtok


def test_the_cli_prints_the_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "tiny.jsonl", TINY)
    assert main(["eval", "route", str(path), "--config", str(CONFIG)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cases"] == 3
    assert printed["complex_to_large"] == 1.0


def test_a_bad_label_is_refused(tmp_path: Path, config: TurnoutConfig) -> None:
    with pytest.raises(ValueError, match=r"tiny\.jsonl:1: label"):
        evaluate_route_file(_write(tmp_path / "tiny.jsonl", [("hi", "easy")]), config)
