"""Kill switches as a table: which callers a switch stops, and lifting it."""

from __future__ import annotations

import asyncio

import pytest

from schemas.events import Caller, ControlEvent
from streams.controls import ControlBoard

ANN = Caller(tenant="acme", team="search", user="ann", tier="free", key_id="k1", feature="autocomplete")
OTHER_TENANT = Caller(tenant="globex", team="search", user="ann", tier="free", key_id="k2", feature="autocomplete")


def kill(scope: str, value: str, killed: bool = True) -> ControlEvent:
    return ControlEvent(scope=scope, value=value, killed=killed, at_us=1, reason="runaway")


@pytest.mark.parametrize(
    ("switch", "stops_ann", "stops_other_tenant"),
    [
        (kill("tenant", "acme"), True, False),
        (kill("team", "acme/search"), True, False),
        (kill("user", "acme/ann"), True, False),
        (kill("feature", "acme/autocomplete"), True, False),
        (kill("key", "k1"), True, False),
        (kill("key", "k2"), False, True),
        (kill("team", "acme/other"), False, False),
    ],
)
def test_a_switch_stops_its_callers_and_no_others(
    switch: ControlEvent, stops_ann: bool, stops_other_tenant: bool
) -> None:
    board = ControlBoard()
    board.apply(switch)
    assert (board.kill_for(ANN) is not None) == stops_ann
    assert (board.kill_for(OTHER_TENANT) is not None) == stops_other_tenant


def test_the_latest_event_per_switch_is_in_force() -> None:
    board = ControlBoard()
    board.apply(kill("team", "acme/search"))
    board.apply(kill("user", "acme/ann"))
    board.apply(kill("team", "acme/search", killed=False))
    assert board.kill_for(ANN) == kill("user", "acme/ann")
    board.apply(kill("user", "acme/ann", killed=False))
    assert board.kill_for(ANN) is None
    board.apply(object())  # other events on the topic are ignored
    assert board.kill_for(ANN) is None


async def test_admission_waits_until_the_switches_are_loaded_but_not_forever() -> None:
    board = ControlBoard()
    waiting = asyncio.ensure_future(board.wait_loaded(timeout_s=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    board.apply(kill("user", "acme/ann"))
    board.loaded.set()  # what the follower does once it has read the topic to its end
    await asyncio.wait_for(waiting, 1)
    assert board.kill_for(ANN) is not None
    late = ControlBoard()
    await late.wait_loaded(timeout_s=0.01)  # no topic behind it: it goes on, and says so in the log
    assert late.loaded.is_set()
