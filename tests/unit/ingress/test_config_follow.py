"""A gateway taking up a config that another gateway's admin API published (``Ingress.take_up``)."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingress.app import Ingress
from schemas.config import hash_key, parse_config
from streams.reload import config_event, config_version
from streams.topics import TopicNames
from turnout.client import TurnoutClient

KEY = "sk-turnout-from-another-gateway"
EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "turnout.yaml"


@pytest.fixture
def example_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def _ingress(data: dict[str, Any]) -> Ingress:
    # the client is never started: take_up touches no Kafka
    return Ingress(parse_config(copy.deepcopy(data)), TurnoutClient("127.0.0.1:9", TopicNames("unit")))


def _with_key(data: dict[str, Any]) -> dict[str, Any]:
    fresh = copy.deepcopy(data)
    fresh["keys"].append({"id": "more", "key_sha256": hash_key(KEY), "tenant": "acme", "team": "t", "user": "u"})
    return fresh


def test_a_newer_config_is_taken_up_with_its_keys(example_data: dict[str, Any]) -> None:
    ingress = _ingress(example_data)
    fresh = parse_config(_with_key(example_data))
    event = config_event(fresh, ingress.read_at_us + 1, "other gateway")
    assert ingress.take_up(event) is True
    assert ingress.version == event.version == config_version(fresh)
    assert ingress.keys.authenticate(KEY, None)[0].key_id == "more"
    assert ingress.take_up(event) is False  # the same version again is no news


def test_an_event_older_than_the_file_this_process_read_is_ignored(example_data: dict[str, Any]) -> None:
    ingress = _ingress(example_data)
    before = ingress.version
    event = config_event(parse_config(_with_key(example_data)), ingress.read_at_us - 1)
    assert ingress.take_up(event) is False and ingress.version == before


def test_a_config_that_needs_a_restart_or_does_not_parse_is_refused(example_data: dict[str, Any]) -> None:
    ingress = _ingress(example_data)
    before = ingress.config
    moved = _with_key(example_data)
    moved["kafka"]["partitions"] = 9
    assert ingress.take_up(config_event(parse_config(moved), ingress.read_at_us + 1)) is False
    broken = replace(config_event(parse_config(_with_key(example_data)), ingress.read_at_us + 1), config_json="{")
    assert ingress.take_up(broken) is False
    assert ingress.config is before
    assert ingress.take_up("not an event") is False
