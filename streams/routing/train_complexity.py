"""Train the complexity classifier: ``python -m streams.routing.train_complexity [--data F] [--out F]``.

Reads ``complexity_train.jsonl`` (one JSON object a line: ``prompt``, ``label`` ``simple`` or
``complex``, and optionally ``history`` as ``[[role, text], ...]`` before the prompt, ``tools`` and
``max_tokens``) and writes ``complexity_model.json``. Never train on ``shared/eval/route-prompts.jsonl``:
that is the held-out evaluation set of ``turnout eval route``.

Deterministic: features are standardized, the logistic loss (with L2) is minimized by full-batch Adam
for a fixed number of epochs from zero weights, folds are drawn with a fixed seed, and the output has
a fixed key order and rounded floats, so a run reproduces the shipped file byte for byte.

The threshold is the highest one at which at least ``TARGET_RECALL`` of the complex prompts score at
or above it, both out-of-fold (each prompt scored by a model that did not see it) and in-sample; the
lower of the two is kept, so the shipped threshold is not tuned to the model's memory of its data.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.routing.classifier import DEFAULT_MODEL_PATH, ComplexityModel, sigmoid
from streams.routing.features import FEATURE_NAMES, complexity_features

__all__ = [
    "DEFAULT_DATA_PATH",
    "TARGET_RECALL",
    "TrainingExample",
    "TrainingReport",
    "TrainingSettings",
    "main",
    "model_file_text",
    "read_examples",
    "train",
    "train_file",
]

DEFAULT_DATA_PATH = Path(__file__).with_name("complexity_train.jsonl")
TARGET_RECALL = 0.98
DIGITS = 6


@dataclass(frozen=True)
class TrainingSettings:
    epochs: int = 400
    learning_rate: float = 0.05
    l2: float = 0.003
    folds: int = 5
    seed: int = 20240611
    target_recall: float = TARGET_RECALL


@dataclass(frozen=True)
class TrainingExample:
    messages: list[tuple[str, str]]
    tools: bool
    max_tokens: int | None
    complex: bool

    def vector(self) -> list[float]:
        features = complexity_features(self.messages, tools=self.tools, max_tokens=self.max_tokens)
        return [features[name] for name in FEATURE_NAMES]


@dataclass(frozen=True)
class TrainingReport:
    """The trained model and how it does on its own training data, at its threshold."""

    model: ComplexityModel
    examples: int
    complex_recall: float
    simple_to_small: float
    out_of_fold_recall: float
    out_of_fold_simple_to_small: float


def read_examples(path: Path) -> list[TrainingExample]:
    examples = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in ("simple", "complex"):
            raise ValueError(f"{path}:{number}: label must be 'simple' or 'complex', got {row.get('label')!r}")
        history = [(str(role), str(text)) for role, text in row.get("history", [])]
        examples.append(
            TrainingExample(
                messages=[*history, ("user", str(row["prompt"]))],
                tools=bool(row.get("tools", False)),
                max_tokens=row.get("max_tokens"),
                complex=row["label"] == "complex",
            )
        )
    return examples


@dataclass(frozen=True)
class _Standardizer:
    means: list[float]
    scales: list[float]

    @classmethod
    def fit(cls, rows: Sequence[list[float]]) -> _Standardizer:
        n = len(rows)
        columns = list(zip(*rows, strict=True))
        means = [math.fsum(c) / n for c in columns]
        scales = []
        for column, mean in zip(columns, means, strict=True):
            std = math.sqrt(math.fsum((x - mean) ** 2 for x in column) / n)
            scales.append(std if std > 1e-9 else 1.0)
        return cls(means, scales)

    def apply(self, row: list[float]) -> list[float]:
        return [(x - m) / s for x, m, s in zip(row, self.means, self.scales, strict=True)]


def _fit_logistic(rows: Sequence[list[float]], labels: Sequence[bool], settings: TrainingSettings) -> list[float]:
    """Weights (bias last) of an L2-regularized logistic regression on standardized ``rows``, by Adam."""
    n = len(rows)
    dim = len(rows[0]) + 1
    data = [[*row, 1.0] for row in rows]
    columns = list(zip(*data, strict=True))
    targets = [1.0 if y else 0.0 for y in labels]
    w = [0.0] * dim
    m = [0.0] * dim
    v = [0.0] * dim
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for epoch in range(1, settings.epochs + 1):
        errors = [sigmoid(math.fsum(map(float.__mul__, w, x))) - t for x, t in zip(data, targets, strict=True)]
        for j in range(dim):
            grad = math.fsum(map(float.__mul__, errors, columns[j])) / n
            if j < dim - 1:
                grad += settings.l2 * w[j]
            m[j] = beta1 * m[j] + (1 - beta1) * grad
            v[j] = beta2 * v[j] + (1 - beta2) * grad * grad
            m_hat = m[j] / (1 - beta1**epoch)
            v_hat = v[j] / (1 - beta2**epoch)
            w[j] -= settings.learning_rate * m_hat / (math.sqrt(v_hat) + eps)
    return w


def _fit_model(rows: Sequence[list[float]], labels: Sequence[bool], settings: TrainingSettings) -> ComplexityModel:
    """A model on raw features: the standardization is folded into the weights and bias, then rounded."""
    standardizer = _Standardizer.fit(rows)
    w = _fit_logistic([standardizer.apply(r) for r in rows], labels, settings)
    raw = [wj / s for wj, s in zip(w[:-1], standardizer.scales, strict=True)]
    bias = w[-1] - math.fsum(wj * mj for wj, mj in zip(raw, standardizer.means, strict=True))
    return ComplexityModel(
        feature_names=FEATURE_NAMES,
        weights=tuple(round(x, DIGITS) for x in raw),
        bias=round(bias, DIGITS),
        threshold=0.5,
    )


def _recall_threshold(complex_scores: Sequence[float], target: float) -> float:
    """The highest threshold (rounded down) at which at least ``target`` of ``complex_scores`` are >= it."""
    ordered = sorted(complex_scores)
    allowed_misses = math.floor(len(ordered) * (1 - target) + 1e-9)
    return math.floor(ordered[allowed_misses] * 10**4) / 10**4


def _rates(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> tuple[float, float]:
    """(complex recall, simple-to-small share) at ``threshold``."""
    hits = sum(1 for s, y in zip(scores, labels, strict=True) if y and s >= threshold)
    keeps = sum(1 for s, y in zip(scores, labels, strict=True) if not y and s < threshold)
    n_complex = sum(labels)
    return hits / n_complex, keeps / (len(labels) - n_complex)


def _out_of_fold_scores(rows: list[list[float]], labels: list[bool], settings: TrainingSettings) -> list[float]:
    order = list(range(len(rows)))
    random.Random(settings.seed).shuffle(order)
    scores = [0.0] * len(rows)
    for fold in range(settings.folds):
        held = set(order[fold :: settings.folds])
        kept = [i for i in range(len(rows)) if i not in held]
        model = _fit_model([rows[i] for i in kept], [labels[i] for i in kept], settings)
        for i in held:
            scores[i] = model.score_vector(rows[i])
    return scores


def train(examples: Sequence[TrainingExample], settings: TrainingSettings | None = None) -> TrainingReport:
    settings = settings or TrainingSettings()
    if not any(e.complex for e in examples) or all(e.complex for e in examples):
        raise ValueError("the training set needs both simple and complex examples")
    rows = [e.vector() for e in examples]
    labels = [e.complex for e in examples]
    oof = _out_of_fold_scores(rows, labels, settings)
    fitted = _fit_model(rows, labels, settings)
    in_sample = [fitted.score_vector(r) for r in rows]
    threshold = min(
        _recall_threshold([s for s, y in zip(oof, labels, strict=True) if y], settings.target_recall),
        _recall_threshold([s for s, y in zip(in_sample, labels, strict=True) if y], settings.target_recall),
    )
    model = ComplexityModel(fitted.feature_names, fitted.weights, fitted.bias, threshold)
    recall, kept = _rates(in_sample, labels, threshold)
    oof_recall, oof_kept = _rates(oof, labels, threshold)
    return TrainingReport(model, len(examples), recall, kept, oof_recall, oof_kept)


def model_file_text(report: TrainingReport, settings: TrainingSettings, data_name: str) -> str:
    """The model file: fixed key order, rounded floats, a trailing newline."""
    body = report.model.to_dict()
    body["training"] = {
        "data": data_name,
        "examples": report.examples,
        "epochs": settings.epochs,
        "learning_rate": settings.learning_rate,
        "l2": settings.l2,
        "folds": settings.folds,
        "seed": settings.seed,
        "target_recall": settings.target_recall,
        "complex_recall": round(report.complex_recall, 4),
        "simple_to_small": round(report.simple_to_small, 4),
        "out_of_fold_complex_recall": round(report.out_of_fold_recall, 4),
        "out_of_fold_simple_to_small": round(report.out_of_fold_simple_to_small, 4),
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def train_file(
    data: Path = DEFAULT_DATA_PATH, out: Path = DEFAULT_MODEL_PATH, settings: TrainingSettings | None = None
) -> TrainingReport:
    """Train on ``data`` and write the model to ``out``."""
    settings = settings or TrainingSettings()
    report = train(read_examples(data), settings)
    out.write_text(model_file_text(report, settings, data.name))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.routing.train_complexity", description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_PATH)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    args = parser.parse_args(argv)
    report = train_file(args.data, args.out)
    print(
        f"wrote {args.out}: {report.examples} examples, threshold {report.model.threshold}, "
        f"complex recall {report.complex_recall:.3f} (out of fold {report.out_of_fold_recall:.3f}), "
        f"simple to small {report.simple_to_small:.3f} (out of fold {report.out_of_fold_simple_to_small:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
