"""Taking up a reloaded config: what needs a restart, the event round trip, and one worker's swap."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from schemas.config import TurnoutConfig, parse_config
from streams.reload import ConfigReloader, config_event, config_of, config_version, needs_restart

NOW = 1_700_000_000_000_000


def test_an_event_carries_the_whole_config(example_config: TurnoutConfig) -> None:
    event = config_event(example_config, NOW, "config/turnout.yaml")
    assert config_of(event) == example_config
    assert event.version == config_version(example_config) and len(event.version) == 16
    assert "sk-turnout-demo" not in event.config_json  # keys travel as hashes


def test_what_needs_a_restart(example_data: dict[str, Any]) -> None:
    example_config = parse_config(copy.deepcopy(example_data))
    example_data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o-mini"]
    example_data["limits"] = []
    example_data["gateway"]["request_timeout_s"] = 5
    assert needs_restart(example_config, parse_config(example_data)) == []
    example_data["topology"]["concurrency"] = 3
    example_data["kafka"]["partitions"] = 8
    example_data["gateway"]["port"] = 1
    assert needs_restart(example_config, parse_config(example_data)) == ["kafka", "topology", "gateway.port"]
    assert needs_restart(example_config, parse_config(example_data), ignore=("topology",)) == ["kafka", "gateway.port"]


def test_turning_the_cache_on_or_to_semantic_needs_a_restart(example_data: dict[str, Any]) -> None:
    for model in example_data["models"].values():
        model.pop("cache", None)
    running = parse_config(example_data)
    example_data["models"]["smart-chat"]["cache"] = {"mode": "exact"}
    exact = parse_config(example_data)
    assert needs_restart(running, exact) == ["the response cache (none -> exact)"]
    example_data["models"]["best-cheap-chat"]["cache"] = {"mode": "semantic"}
    assert needs_restart(exact, parse_config(example_data)) == ["the response cache (exact -> semantic)"]


class _Handler:
    def __init__(self) -> None:
        self.pipeline: Any = "old"

    def use(self, pipeline: Any) -> None:
        self.pipeline = pipeline


class _Cache:
    config: TurnoutConfig | None = None

    def use_config(self, config: TurnoutConfig) -> None:
        self.config = config


@pytest.fixture
def worker(example_data: dict[str, Any]) -> tuple[ConfigReloader, list[_Handler], _Cache, list[TurnoutConfig]]:
    example_config = parse_config(copy.deepcopy(example_data))
    built: list[TurnoutConfig] = []

    def build(config: TurnoutConfig) -> str:
        built.append(config)
        return f"path for {config_version(config)}"

    handlers, cache = [_Handler(), _Handler()], _Cache()
    return ConfigReloader(example_config, build, handlers, cache, clock=lambda: NOW), handlers, cache, built


def test_a_worker_takes_up_a_newer_config_in_every_agent(worker: Any, example_data: dict[str, Any]) -> None:
    reloader, handlers, cache, built = worker
    example_data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o-mini"]
    example_data["topology"]["web_port"] = 9999  # the worker's own topology stays
    fresh = parse_config(example_data)
    assert reloader.apply(config_event(fresh, NOW + 1))
    assert reloader.config.models["smart-chat"].deployments == ("sim-gpt-4o-mini",)
    assert reloader.config.topology.web_port is None
    assert {h.pipeline for h in handlers} == {f"path for {config_version(built[0])}"}
    assert cache.config is reloader.config
    assert reloader.version == config_version(fresh)
    assert not reloader.apply(config_event(fresh, NOW + 2))  # the same version again: nothing to do


def test_a_worker_keeps_its_config_when_it_should(worker: Any, example_data: dict[str, Any]) -> None:
    reloader, handlers, _, built = worker
    running = reloader.version
    example_data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o-mini"]
    fresh = parse_config(example_data)
    assert not reloader.apply(config_event(fresh, NOW - 1))  # published before this worker read its file
    assert not reloader.apply(replace(config_event(fresh, NOW + 1), config_json="{not json"))
    assert not reloader.apply(replace(config_event(fresh, NOW + 1), config_json='{"models": {}}'))
    example_data["redis"]["url"] = "redis://elsewhere:6379/0"
    assert not reloader.apply(config_event(parse_config(example_data), NOW + 1))  # needs a restart
    assert not reloader.apply("not a config event")
    assert reloader.version == running and built == [] and {h.pipeline for h in handlers} == {"old"}


def test_a_config_that_fails_to_build_is_not_taken_up(
    example_config: TurnoutConfig, example_data: dict[str, Any]
) -> None:
    def build(config: TurnoutConfig) -> str:
        raise RuntimeError("a provider client could not be made")

    handlers = [_Handler()]
    reloader = ConfigReloader(example_config, build, handlers, None, clock=lambda: NOW)
    example_data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o-mini"]
    assert not reloader.apply(config_event(parse_config(example_data), NOW + 1))
    assert handlers[0].pipeline == "old" and reloader.config is example_config
