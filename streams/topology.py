"""Which agents run which stages, on which topics: the one place the pipeline is wired.

split: one agent per stage, each reading the previous stage's topic (five hops, each stage scales
       and fails on its own).
fused: one agent runs every stage in-process (one hop, lowest latency). The stage code is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.config import TopologyConfig
from streams.topics import STAGE_ORDER, TopicNames

__all__ = ["AgentSpec", "agent_specs", "parked_spec"]


@dataclass(frozen=True, slots=True)
class AgentSpec:
    name: str
    input_topic: str
    stages: tuple[str, ...]
    output_topic: str | None
    concurrency: int

    @property
    def reads_requests(self) -> bool:
        return self.stages[0] == STAGE_ORDER[0]


def parked_spec(topology: TopologyConfig, topics: TopicNames) -> AgentSpec:
    """The agent that admits requests parked over a rate limit once there is capacity again."""
    output = None if topology.layout == "fused" else topics.stage_output("input_guard")
    return AgentSpec("parked", topics.parked, ("input_guard",), output, topology.concurrency)


def agent_specs(topology: TopologyConfig, topics: TopicNames) -> list[AgentSpec]:
    if topology.layout == "fused":
        return [AgentSpec("pipeline", topics.requests, STAGE_ORDER, None, topology.concurrency)]
    specs = []
    for i, stage in enumerate(STAGE_ORDER):
        last = i == len(STAGE_ORDER) - 1
        specs.append(
            AgentSpec(
                name=stage,
                input_topic=topics.stage_input(stage),
                stages=(stage,),
                output_topic=None if last else topics.stage_output(stage),
                # every stage may wait on the network (moderation, the cache's store and embedder,
                # the limiter's and the budgets' Redis, the provider): one event at a time would
                # make that wait each stage's ceiling. No stage depends on the order of requests.
                concurrency=topology.concurrency,
            )
        )
    return specs
