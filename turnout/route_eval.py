"""``turnout eval route FILE.jsonl``: the complexity router's accuracy and cost saving on labelled prompts.

Each line is ``{"prompt": ..., "label": "simple"|"complex"}``; the prompt is one user message. The
router sends a prompt to the large model (the primary deployment of ``smart-chat``) when the shipped
classifier says complex, else to the small one (the primary deployment of ``best-cheap-chat``). Cost is
estimated from the config's prices with a fixed token model, reported under ``cost_assumptions``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.config import ConfigError, DeploymentConfig, TurnoutConfig
from streams.routing.classifier import ComplexityModel
from streams.routing.train_complexity import read_examples

__all__ = ["LARGE_MODEL", "OUTPUT_TOKENS", "SMALL_MODEL", "evaluate_route_file", "prompt_cost_usd"]

LARGE_MODEL = "smart-chat"
SMALL_MODEL = "best-cheap-chat"
OUTPUT_TOKENS = 300
_CHARS_PER_TOKEN = 4
_TOKEN_OVERHEAD = 4
_REPEATS = 5
_SHOWN_CHARS = 100


@dataclass(frozen=True)
class LabelledPrompt:
    prompt: str
    complex: bool


def read_labelled(path: Path) -> list[LabelledPrompt]:
    """The labelled prompts of ``path``, read as the training script reads its own file."""
    return [LabelledPrompt(prompt=e.messages[-1][1], complex=e.complex) for e in read_examples(path)]


def input_tokens(prompt: str) -> int:
    return math.ceil(len(prompt) / _CHARS_PER_TOKEN) + _TOKEN_OVERHEAD


def prompt_cost_usd(prompt: str, deployment: DeploymentConfig) -> float:
    """The estimated cost of answering ``prompt`` on ``deployment``."""
    micro = input_tokens(prompt) * deployment.input_usd_per_mtok + OUTPUT_TOKENS * deployment.output_usd_per_mtok
    return micro / 1_000_000


def primary_deployment(config: TurnoutConfig, model: str) -> tuple[str, DeploymentConfig]:
    if model not in config.models:
        raise ConfigError(f"route eval needs the logical model {model!r} in the config")
    name = config.models[model].deployments[0]
    return name, config.deployments[name]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def evaluate_route_file(path: Path, config: TurnoutConfig, model: ComplexityModel | None = None) -> dict[str, Any]:
    """Route every prompt in ``path`` with the complexity model and report accuracy, shares and cost saving."""
    model = model or ComplexityModel.load()
    cases = read_labelled(Path(path))
    if not cases:
        raise ValueError(f"{path}: no labelled prompts")
    large_name, large = primary_deployment(config, LARGE_MODEL)
    small_name, small = primary_deployment(config, SMALL_MODEL)

    decisions: list[bool] = []
    misrouted: list[dict[str, Any]] = []
    timings_us: list[float] = []
    for case in cases:
        messages = [("user", case.prompt)]
        best = math.inf
        for _ in range(_REPEATS):
            start = time.perf_counter_ns()
            decision = model.decide(messages)
            best = min(best, (time.perf_counter_ns() - start) / 1000)
        decisions.append(decision.complex)
        timings_us.append(best)
        if decision.complex != case.complex:
            label = "complex" if case.complex else "simple"
            misrouted.append({"label": label, "score": round(decision.score, 4), "prompt": case.prompt[:_SHOWN_CHARS]})

    n_complex = sum(c.complex for c in cases)
    n_simple = len(cases) - n_complex
    correct = sum(1 for c, d in zip(cases, decisions, strict=True) if c.complex == d)
    complex_to_large = sum(1 for c, d in zip(cases, decisions, strict=True) if c.complex and d)
    simple_to_small = sum(1 for c, d in zip(cases, decisions, strict=True) if not c.complex and not d)
    routed = math.fsum(prompt_cost_usd(c.prompt, large if d else small) for c, d in zip(cases, decisions, strict=True))
    always_large = math.fsum(prompt_cost_usd(c.prompt, large) for c in cases)
    return {
        "cases": len(cases),
        "complex_cases": n_complex,
        "simple_cases": n_simple,
        "accuracy": round(correct / len(cases), 4),
        "complex_to_large": round(complex_to_large / n_complex, 4) if n_complex else None,
        "simple_to_small": round(simple_to_small / n_simple, 4) if n_simple else None,
        "large_share": round(sum(decisions) / len(cases), 4),
        "cost_saving": round(1 - routed / always_large, 4) if always_large else 0.0,
        "cost_usd": {"routed": round(routed, 6), "always_large": round(always_large, 6)},
        "cost_assumptions": {
            "large": {"model": LARGE_MODEL, "deployment": large_name, **_prices(large)},
            "small": {"model": SMALL_MODEL, "deployment": small_name, **_prices(small)},
            "input_tokens": f"ceil(chars / {_CHARS_PER_TOKEN}) + {_TOKEN_OVERHEAD} per prompt",
            "output_tokens": f"{OUTPUT_TOKENS} per prompt",
        },
        "threshold": model.threshold,
        "misrouted": misrouted,
        "decision_us": {
            "p50": round(_percentile(timings_us, 0.50), 1),
            "p99": round(_percentile(timings_us, 0.99), 1),
            "max": round(max(timings_us), 1),
            "method": f"features and score of each prompt, best of {_REPEATS} runs",
        },
    }


def _prices(deployment: DeploymentConfig) -> dict[str, float]:
    return {
        "input_usd_per_mtok": deployment.input_usd_per_mtok,
        "output_usd_per_mtok": deployment.output_usd_per_mtok,
    }
