"""``turnout eval guard FILE.jsonl``: the guardrails' detection quality and speed on labelled texts.

Each line is ``{"text": ..., "pii": [{"type": ..., "value": ...}], "injection": true|false}``. A
predicted finding is correct when its type and its text equal a labelled value's; both sides lose
trailing sentence punctuation first (labels leave it out, detectors may keep a password's final ``!``).
Counts are micro-averaged over all types, and per type. The latency is that of the default input
check, :func:`~streams.guards.pii.find_pii` and :func:`~streams.guards.injection.injection_score`,
per text: the median of three runs, after one warm-up pass.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.guards.injection import DEFAULT_INJECTION_THRESHOLD, injection_score
from streams.guards.pii import find_pii

__all__ = ["evaluate_guard_file"]

_TRAILING_PUNCTUATION = ".,;:!?"
_MAX_ERRORS = 50
_TIMED_RUNS = 3  # each text is checked this many times and its median taken, to damp scheduler noise


@dataclass(frozen=True, slots=True)
class _Case:
    line: int
    text: str
    pii: Counter[tuple[str, str]]
    injection: bool


@dataclass(frozen=True, slots=True)
class _Judged:
    """One case's predictions against its labels."""

    case: _Case
    predicted: Counter[tuple[str, str]]
    injection_predicted: bool
    latency_ms: float


def _normalise(value: str) -> str:
    return value.strip().rstrip(_TRAILING_PUNCTUATION)


def _read_cases(path: Path) -> list[_Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        labels = Counter((p["type"], _normalise(p["value"])) for p in row.get("pii", []))
        cases.append(_Case(number, row["text"], labels, bool(row.get("injection", False))))
    return cases


def _judge(case: _Case) -> _Judged:
    timings = []
    for _ in range(_TIMED_RUNS):
        start = time.perf_counter()
        findings = find_pii(case.text)
        score = injection_score(case.text)
        timings.append((time.perf_counter() - start) * 1000)
    elapsed = statistics.median(timings)
    predicted = Counter((f.type, _normalise(f.value(case.text))) for f in findings)
    return _Judged(case, predicted, score >= DEFAULT_INJECTION_THRESHOLD, elapsed)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 3)


def _errors(judged: list[_Judged]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for j in judged:
        for (kind, value), n in (j.case.pii - j.predicted).items():
            errors += [{"line": j.case.line, "error": "pii_missed", "type": kind, "value": value}] * n
        for (kind, value), n in (j.predicted - j.case.pii).items():
            errors += [{"line": j.case.line, "error": "pii_false_positive", "type": kind, "value": value}] * n
        if j.injection_predicted != j.case.injection:
            kind = "injection_missed" if j.case.injection else "injection_false_alarm"
            errors.append({"line": j.case.line, "error": kind, "text": j.case.text[:120]})
    return errors[:_MAX_ERRORS]


def evaluate_guard_file(path: Path) -> dict[str, Any]:
    """PII recall and precision (overall and per type), injection TPR and FPR, and input-check latency."""
    cases = _read_cases(path)
    for case in cases:
        _judge(case)  # warm-up: first calls load phone metadata and fill caches
    judged = [_judge(case) for case in cases]

    true_pos: Counter[str] = Counter()
    labelled: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    for j in judged:
        for (kind, _), n in (j.case.pii & j.predicted).items():
            true_pos[kind] += n
        for (kind, _), n in j.case.pii.items():
            labelled[kind] += n
        for (kind, _), n in j.predicted.items():
            predicted[kind] += n
    per_type = {
        kind: {
            "recall": _ratio(true_pos[kind], labelled[kind]),
            "precision": _ratio(true_pos[kind], predicted[kind]),
            "support": labelled[kind],
        }
        for kind in sorted(labelled | predicted)
    }
    positives = [j for j in judged if j.case.injection]
    negatives = [j for j in judged if not j.case.injection]
    latencies = [j.latency_ms for j in judged]
    return {
        "cases": len(judged),
        "pii_recall": _ratio(sum(true_pos.values()), sum(labelled.values())),
        "pii_precision": _ratio(sum(true_pos.values()), sum(predicted.values())),
        "per_type": per_type,
        "injection_tpr": _ratio(sum(j.injection_predicted for j in positives), len(positives)),
        "injection_fpr": _ratio(sum(j.injection_predicted for j in negatives), len(negatives)),
        "injection_threshold": DEFAULT_INJECTION_THRESHOLD,
        "latency_ms": {"p50": _percentile(latencies, 0.5), "p99": _percentile(latencies, 0.99)} if latencies else None,
        "errors": _errors(judged),
    }
