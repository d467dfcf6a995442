"""Per-app state: configuration, fault rules, per-model statistics.

Everything lives on one :class:`SimulatorState` stored on the Starlette app
(``app.state.sim``); nothing is module-level. All mutation happens on the
event loop thread, so no locking is needed.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.knobs import Knobs, knobs_from_model_name
from simulator.replies import DEFAULT_WORD_CAP

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Static configuration of one simulator app.

    - ``models``: listed by ``GET /v1/models`` (requested models are added).
    - ``default_knobs``: lowest-precedence knobs for every request.
    - ``hang_cap_s``: the longest a ``hang`` waits for the client to go away.
    - ``words_per_chunk``: words per streamed content delta.
    - ``word_cap``: maximum words of the default echo reply.
    """

    models: tuple[str, ...] = ("sim-default",)
    default_knobs: Knobs = field(default_factory=Knobs)
    hang_cap_s: float = 600.0
    words_per_chunk: int = 3
    word_cap: int = DEFAULT_WORD_CAP


@dataclass(slots=True)
class FaultRule:
    """Knobs applied to the next ``remaining`` requests for ``model`` (None: forever)."""

    id: int
    model: str
    knobs: Knobs
    remaining: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "knobs": self.knobs.to_dict(),
            "times": self.remaining,
        }


class FaultRules:
    """Installed fault rules; taking the knobs for a request uses up one time."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def install(self, model: str, knobs: Knobs, times: int | None) -> FaultRule:
        rule = FaultRule(next(self._ids), model, knobs, times)
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        self._rules.clear()

    def snapshot(self) -> list[FaultRule]:
        return list(self._rules)

    def take(self, model: str) -> Knobs:
        """Merge the knobs of every live rule matching ``model`` and consume one use.

        Wildcard rules come first, then rules naming the model; within each
        group later rules override earlier ones.
        """
        if not self._rules:
            return Knobs()
        wildcard = [r for r in self._rules if r.model == WILDCARD]
        exact = [r for r in self._rules if r.model == model]
        knobs = Knobs()
        for rule in wildcard + exact:
            knobs = knobs.merged(rule.knobs)
            if rule.remaining is not None:
                rule.remaining -= 1
        self._rules = [r for r in self._rules if r.remaining is None or r.remaining > 0]
        return knobs


@dataclass(slots=True)
class ModelStats:
    total: int = 0
    streamed: int = 0
    errors_injected: int = 0
    broken_streams: int = 0
    hangs: int = 0


@dataclass(slots=True)
class SimulatorState:
    """The mutable state of one app instance."""

    config: SimulatorConfig
    rules: FaultRules = field(default_factory=FaultRules)
    stats: dict[str, ModelStats] = field(default_factory=dict)
    seen_models: dict[str, int] = field(default_factory=dict)

    def model_stats(self, model: str) -> ModelStats:
        stats = self.stats.get(model)
        if stats is None:
            stats = self.stats[model] = ModelStats()
        return stats

    def record_request(self, model: str, streamed: bool) -> ModelStats:
        if model not in self.seen_models:
            self.seen_models[model] = int(time.time())
        stats = self.model_stats(model)
        stats.total += 1
        stats.streamed += int(streamed)
        return stats

    def count_request(self, model: str, streamed: bool, knobs: Knobs) -> None:
        """Count a request and the fault its knobs inject, for ``/_sim/stats``."""
        stats = self.record_request(model, streamed)
        if knobs.hang:
            stats.hangs += 1
        elif knobs.error_status is not None or (streamed and knobs.error_after_chunks is not None):
            stats.errors_injected += 1
        elif knobs.break_after_chunks is not None:
            stats.broken_streams += 1

    def effective_knobs(self, model: str, header_knobs: Knobs) -> Knobs:
        """Config defaults < model-name convention < fault rules < headers."""
        knobs = self.config.default_knobs.merged(knobs_from_model_name(model))
        return knobs.merged(self.rules.take(model)).merged(header_knobs)

    def stats_dict(self) -> dict[str, Any]:
        models = {name: asdict(stats) for name, stats in self.stats.items()}
        return {"total": sum(s.total for s in self.stats.values()), "models": models}

    def reset(self) -> None:
        self.stats.clear()
        self.rules.clear()
