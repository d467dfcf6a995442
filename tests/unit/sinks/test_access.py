"""Reader logins: the token a request presents, and the config's rules for the query port."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.config import ConfigError, TurnoutConfig, hash_key
from schemas.config import parse_config as _parse
from schemas.credentials import resolve_readers
from sinks.access import OPEN, Reader, Readers, presented_token

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[3] / "config" / "turnout.yaml").read_text())


def parse_config(overrides: dict[str, Any]) -> TurnoutConfig:
    """The example config with ``overrides``' sections replaced."""
    return _parse({**EXAMPLE, **overrides})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        (_basic("someone", "p:w"), "p:w"),
        (_basic("", "secret"), "secret"),
        (_basic("user", ""), None),
        ("Basic not-base64!", None),
        ("Bearer ", None),
        ("Token abc", None),
        ("", None),
        (None, None),
    ],
)
def test_the_presented_token(header: str | None, token: str | None) -> None:
    assert presented_token(header) == token


def test_readers_by_hash_or_environment() -> None:
    config = parse_config(
        {
            "sink": {
                "readers": [
                    {"name": "all", "token_sha256": hash_key("one")},
                    {"name": "acme", "token_env": "TURNOUT_TEST_READER", "tenant": "acme"},
                ]
            }
        }
    )
    with pytest.raises(ConfigError, match="TURNOUT_TEST_READER"):
        resolve_readers(config, environ={})
    assert {r.name for r in resolve_readers(config, environ={"TURNOUT_TEST_READER": "two"}).values()} == {"all", "acme"}


def test_identify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TURNOUT_TEST_READER", "two")
    config = parse_config(
        {"sink": {"readers": [{"name": "acme", "token_env": "TURNOUT_TEST_READER", "tenant": "acme"}]}}
    )
    readers = Readers(config)
    assert not readers.open
    assert readers.identify("Bearer two") == Reader("acme", "acme")
    assert readers.identify(_basic("anyone", "two")) == Reader("acme", "acme")
    assert readers.identify("Bearer three") is None
    assert readers.identify(None) is None
    assert Readers(parse_config({"sink": {}})).identify(None) is OPEN


def test_an_open_query_port_must_be_on_loopback() -> None:
    with pytest.raises(ConfigError, match="not loopback"):
        parse_config({"sink": {"query_host": "0.0.0.0"}})
    parse_config({"sink": {"query_host": "0.0.0.0", "readers": [{"name": "a", "token_sha256": "0" * 64}]}})


@pytest.mark.parametrize(
    "reader",
    [
        {"name": "a"},
        {"name": "a", "token_sha256": "0" * 64, "token_env": "X"},
        {"name": "a", "token_sha256": "0" * 64, "tenant": "it's"},
    ],
)
def test_bad_readers_are_refused(reader: dict) -> None:
    with pytest.raises(ConfigError):
        parse_config({"sink": {"readers": [reader]}})
