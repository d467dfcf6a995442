"""Operator kill switches, in force on every worker within a second.

A ``ControlEvent`` sets or lifts a kill switch for one tenant, team, user, feature or key. The
events live on a compacted topic keyed by ``scope:value`` (``turnout kill`` writes them), which
every worker follows from its start (``streams.follow``), so a restarted worker knows at once and
a switch needs no Redis. Values are tenant-qualified like budgets' scopes (``acme``,
``acme/platform``, ``acme/alice``, ``acme/search``); a key is named by its id.
"""

from __future__ import annotations

import asyncio
import logging

from schemas.events import Caller, ControlEvent

__all__ = ["KILL_SCOPES", "ControlBoard", "control_key"]

KILL_SCOPES = ("tenant", "team", "user", "feature", "key")
LOAD_WAIT_S = 10.0

log = logging.getLogger(__name__)


def control_key(scope: str, value: str) -> str:
    return f"{scope}:{value}"


class ControlBoard:
    """The kill switches in force, as this worker knows them."""

    def __init__(self, loaded: bool = False) -> None:
        self._killed: dict[str, ControlEvent] = {}
        self.loaded = asyncio.Event()  # set once the control topic has been read to its end
        if loaded:  # a board with no topic behind it (tests, tools)
            self.loaded.set()

    async def wait_loaded(self, timeout_s: float = LOAD_WAIT_S) -> None:
        """A worker that just started must not admit a stopped caller before it has read the topic."""
        if self.loaded.is_set():
            return
        try:
            await asyncio.wait_for(self.loaded.wait(), timeout_s)
        except TimeoutError:
            log.warning("kill switches not loaded after %.0f s; going on without them", timeout_s)
            self.loaded.set()

    def apply(self, event: object) -> None:
        if not isinstance(event, ControlEvent):
            return
        key = control_key(event.scope, event.value)
        if event.killed:
            self._killed[key] = event
        else:
            self._killed.pop(key, None)

    def kill_for(self, caller: Caller) -> ControlEvent | None:
        """The kill switch that stops ``caller``, if one does (the widest scope first)."""
        if not self._killed:
            return None
        values = {
            "tenant": caller.tenant,
            "team": f"{caller.tenant}/{caller.team}",
            "user": f"{caller.tenant}/{caller.user}",
            "feature": f"{caller.tenant}/{caller.feature}" if caller.feature else None,
            "key": caller.key_id,
        }
        for scope in KILL_SCOPES:
            value = values[scope]
            if value is not None and (event := self._killed.get(control_key(scope, value))) is not None:
                return event
        return None
