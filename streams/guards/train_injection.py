"""Train the injection model: ``python -m streams.guards.train_injection [--check]``.

Reads the labelled examples in ``injection_train.jsonl`` (``{"text": ..., "injection": true|false}``,
written by hand for this purpose and kept apart from the evaluation sets), fits an L2-regularised
logistic regression by full-batch gradient descent, and writes ``injection_model.json``. Everything is
deterministic (sorted vocabulary, fixed step count, rounded weights), so the same data always gives
the same file; ``--check`` exits non-zero when the shipped file differs from a fresh run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

from streams.guards.injection_model import MODEL_PATH, LinearModel, features

__all__ = ["DATA_PATH", "main", "train"]

DATA_PATH = Path(__file__).with_name("injection_train.jsonl")

_MIN_DOCUMENTS = 2  # a feature must occur in this many examples to get a weight
_L2 = 0.01
_STEPS = 300
_LEARNING_RATE = 0.5
_DIGITS = 3


def _examples(path: Path) -> list[tuple[frozenset[str], float]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(features(row["text"]), 1.0 if row["injection"] else 0.0) for row in rows]


def train(path: Path = DATA_PATH) -> LinearModel:
    """The model fitted to the examples in ``path``."""
    examples = _examples(path)
    counts = Counter(f for feats, _ in examples for f in feats)
    vocabulary = sorted(f for f, n in counts.items() if n >= _MIN_DOCUMENTS)
    index = {f: i for i, f in enumerate(vocabulary)}
    rows = [(sorted(index[f] for f in feats if f in index), label) for feats, label in examples]
    weights = [0.0] * len(vocabulary)
    bias = 0.0
    n = len(rows)
    for _ in range(_STEPS):
        gradient = [0.0] * len(vocabulary)
        bias_gradient = 0.0
        for columns, label in rows:
            z = bias + sum(weights[c] for c in columns)
            error = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - label
            bias_gradient += error
            for c in columns:
                gradient[c] += error
        bias -= _LEARNING_RATE * bias_gradient / n
        for c in range(len(weights)):
            weights[c] -= _LEARNING_RATE * (gradient[c] / n + _L2 * weights[c])
    kept = {f: round(w, _DIGITS) for f, w in zip(vocabulary, weights, strict=True) if abs(w) >= 10**-_DIGITS}
    return LinearModel(round(bias, _DIGITS), kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_PATH)
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--check", action="store_true", help="only compare a fresh run with --out")
    args = parser.parse_args(argv)
    written = train(args.data).to_json()
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == written
        sys.stderr.write("up to date\n" if same else f"{args.out} differs from a fresh training run\n")
        return 0 if same else 1
    args.out.write_text(written, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
