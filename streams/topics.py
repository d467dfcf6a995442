"""The names of Turnout's topics, derived from the config's topic prefix."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STAGE_ORDER", "TopicNames"]

STAGE_ORDER: tuple[str, ...] = ("input_guard", "cache", "route", "invoke", "output_guard")


@dataclass(frozen=True, slots=True)
class TopicNames:
    prefix: str

    @property
    def requests(self) -> str:
        """Request events from the ingress and Kafka-native clients: the input guard's input."""
        return f"{self.prefix}.requests"

    def stage_input(self, stage: str) -> str:
        """The topic a stage reads in the split layout."""
        if stage == STAGE_ORDER[0]:
            return self.requests
        previous = STAGE_ORDER[STAGE_ORDER.index(stage) - 1]
        return f"{self.prefix}.stage.{previous}"

    def stage_output(self, stage: str) -> str:
        return f"{self.prefix}.stage.{stage}"

    @property
    def parked(self) -> str:
        """Requests over a rate limit whose route queues them: admitted when capacity returns."""
        return f"{self.prefix}.stage.parked"

    @property
    def attempts(self) -> str:
        return f"{self.prefix}.events.attempts"

    @property
    def usage(self) -> str:
        return f"{self.prefix}.events.usage"

    @property
    def records(self) -> str:
        """One RequestRecord per answered request: what the ClickHouse sink stores."""
        return f"{self.prefix}.events.requests"

    @property
    def breakers(self) -> str:
        """BreakerEvents keyed by deployment; compacted, so it holds each breaker's current state."""
        return f"{self.prefix}.events.breakers"

    @property
    def budget_events(self) -> str:
        """BudgetEvents: a budget's spend reached one of its alert thresholds."""
        return f"{self.prefix}.events.budgets"

    @property
    def guard_events(self) -> str:
        """GuardEvents: what a guardrail found in a request or its reply (never the text)."""
        return f"{self.prefix}.events.guards"

    @property
    def replay(self) -> str:
        """ReplayDecisions of ``turnout replay`` runs: the shadow topic, never a reply topic."""
        return f"{self.prefix}.events.replay"

    @property
    def shadow(self) -> str:
        """ShadowAnswers of live ``turnout replay`` runs: candidate answers beside the originals."""
        return f"{self.prefix}.events.shadow"

    @property
    def feedback(self) -> str:
        """FeedbackEvents from ``POST /v1/feedback``."""
        return f"{self.prefix}.events.feedback"

    @property
    def controls(self) -> str:
        """ControlEvents keyed by scope:value; compacted, so it holds every kill switch in force."""
        return f"{self.prefix}.control"

    @property
    def config(self) -> str:
        """ConfigEvents, one key; compacted: the last config the admin API accepted, for the workers and gateways."""
        return f"{self.prefix}.config"

    @property
    def cache_fills(self) -> str:
        """CacheFills: answers to keep, for the cache writer (holds answers: never sunk to ClickHouse)."""
        return f"{self.prefix}.cache.fills"

    @property
    def cache_entries(self) -> str:
        """CacheEntries keyed by entry id, with their vectors; compacted: every worker's embedded store
        is rebuilt from it at start."""
        return f"{self.prefix}.cache.entries"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}.dlq"

    def replies(self, instance_id: str) -> str:
        return f"{self.prefix}.replies.{instance_id}"

    @property
    def event_topics(self) -> tuple[str, ...]:
        return (
            self.records,
            self.attempts,
            self.usage,
            self.breakers,
            self.budget_events,
            self.guard_events,
            self.replay,
            self.controls,
            self.feedback,
            self.shadow,
        )
