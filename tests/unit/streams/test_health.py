"""A worker's liveness and readiness from its consumer's state (``streams.health``)."""

from __future__ import annotations

from dataclasses import replace

from streams.health import STALE_AFTER_S, WorkerHealth

READY = WorkerHealth(
    started_at=100.0,
    fetched_at=200.0,
    joined=True,
    rebalancing=False,
    coordinator_known=True,
    partitions=2,
    controls_loaded=True,
    breakers_loaded=True,
)


def test_a_worker_whose_fetch_loop_came_back_lately_is_live_and_ready() -> None:
    report = READY.report(now=201.0)
    assert READY.live(201.0) and READY.ready(201.0)
    assert report == {
        "live": True,
        "ready": True,
        "fetch_age_s": 1.0,
        "partitions": 2,
        "rebalancing": False,
        "coordinator_known": True,
        "problems": [],
    }


def test_a_fetch_loop_that_stopped_coming_back_is_not_live() -> None:
    now = 200.0 + STALE_AFTER_S + 1
    assert not READY.live(now) and not READY.ready(now)
    assert READY.report(now)["problems"] == ["the consumer's fetch loop has not come back for 31 s"]
    assert READY.live(now, stale_after_s=60)


def test_a_starting_worker_is_live_for_a_while_but_not_ready() -> None:
    starting = replace(READY, fetched_at=None, joined=False, partitions=0, controls_loaded=False, breakers_loaded=False)
    assert starting.live(110.0) and not starting.ready(110.0)
    assert starting.report(110.0)["problems"] == [
        "not yet a member of the consumer group",
        "kill switches not loaded yet",
        "breaker states not loaded yet",
    ]
    assert not starting.live(100.0 + STALE_AFTER_S + 1)  # it never fetched


def test_a_rebalancing_worker_is_live_but_not_ready() -> None:
    moving = replace(READY, rebalancing=True)
    assert moving.live(201.0) and not moving.ready(201.0)
    assert moving.report(201.0)["problems"] == ["the consumer group is rebalancing"]


def test_a_worker_whose_group_coordinator_is_not_answering_is_live_but_not_ready() -> None:
    cut_off = replace(READY, coordinator_known=False)  # a broker outage: the fetch loop still comes back
    assert cut_off.live(201.0) and not cut_off.ready(201.0)
    assert cut_off.report(201.0)["problems"] == ["the consumer group's coordinator (a Kafka broker) is not answering"]
    assert cut_off.report(201.0)["coordinator_known"] is False


def test_a_worker_with_no_partitions_after_joining_is_ready() -> None:
    idle = replace(READY, partitions=0)  # more workers than partitions: idle, but nothing is wrong
    assert idle.ready(201.0)
