"""Input guard core. The foundation passes every request; the guardrails issue fills it in."""

from __future__ import annotations

from schemas.events import GuardVerdict, StageEvent

__all__ = ["check_input"]


def check_input(event: StageEvent) -> GuardVerdict:
    """The verdict on the request's input before anything else sees it."""
    del event
    return GuardVerdict(action="pass")
