"""Topic names and which agents run which stages, for both layouts."""

from __future__ import annotations

import itertools

import pytest

from schemas.config import TopologyConfig
from streams.topics import STAGE_ORDER, TopicNames
from streams.topology import AgentSpec, agent_specs

TOPICS = TopicNames("tt")


def test_stage_order() -> None:
    assert STAGE_ORDER == ("input_guard", "cache", "route", "invoke", "output_guard")


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("requests", "tt.requests"),
        ("attempts", "tt.events.attempts"),
        ("usage", "tt.events.usage"),
        ("breakers", "tt.events.breakers"),
        ("records", "tt.events.requests"),
        ("dead_letters", "tt.dlq"),
        ("budget_events", "tt.events.budgets"),
        ("controls", "tt.control"),
        ("guard_events", "tt.events.guards"),
        ("replay", "tt.events.replay"),
        ("cache_fills", "tt.cache.fills"),
        ("cache_entries", "tt.cache.entries"),
        ("config", "tt.config"),
    ],
)
def test_topic_names(name: str, topic: str) -> None:
    assert getattr(TOPICS, name) == topic


def test_replies_and_event_topics() -> None:
    assert TOPICS.replies("gw-1") == "tt.replies.gw-1"
    assert TOPICS.event_topics == (
        "tt.events.requests",
        "tt.events.attempts",
        "tt.events.usage",
        "tt.events.breakers",
        "tt.events.budgets",
        "tt.events.guards",
        "tt.events.replay",
        "tt.control",
        "tt.events.feedback",
        "tt.events.shadow",
    )


def test_split_layout_chains_one_agent_per_stage() -> None:
    specs = agent_specs(TopologyConfig(layout="split", concurrency=32), TOPICS)
    assert specs == [
        AgentSpec("input_guard", "tt.requests", ("input_guard",), "tt.stage.input_guard", 32),
        AgentSpec("cache", "tt.stage.input_guard", ("cache",), "tt.stage.cache", 32),
        AgentSpec("route", "tt.stage.cache", ("route",), "tt.stage.route", 32),
        AgentSpec("invoke", "tt.stage.route", ("invoke",), "tt.stage.invoke", 32),
        AgentSpec("output_guard", "tt.stage.invoke", ("output_guard",), None, 32),
    ]
    for before, after in itertools.pairwise(specs):
        assert before.output_topic == after.input_topic
    assert [s.reads_requests for s in specs] == [True, False, False, False, False]


def test_fused_layout_is_one_agent_running_every_stage() -> None:
    (spec,) = agent_specs(TopologyConfig(layout="fused", concurrency=8), TOPICS)
    assert spec == AgentSpec("pipeline", "tt.requests", STAGE_ORDER, None, 8)
    assert spec.reads_requests


@pytest.mark.parametrize("stage", STAGE_ORDER)
def test_stage_topics_are_consistent(stage: str) -> None:
    index = STAGE_ORDER.index(stage)
    expected = "tt.requests" if index == 0 else TOPICS.stage_output(STAGE_ORDER[index - 1])
    assert TOPICS.stage_input(stage) == expected
    assert TOPICS.stage_output(stage) == f"tt.stage.{stage}"
