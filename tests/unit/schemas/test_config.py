"""The YAML config: the example loads, and a bad file is refused with the path of the bad key."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

import schemas.config
from schemas.config import (
    ConfigError,
    TurnoutConfig,
    hash_key,
    load_config,
    parse_config,
)
from schemas.credentials import provider_api_key, resolve_secrets

EXAMPLE = Path(schemas.config.__file__).resolve().parents[1] / "config" / "turnout.yaml"


@pytest.fixture
def example_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.topology.layout == "split"
    assert config.kafka.topic_prefix == "turnout"
    assert config.providers["simulator"].base_url == "http://127.0.0.1:18080/v1"
    assert config.providers["simulator"].api_key_env == "SIMULATOR_API_KEY"
    assert config.deployments["sim-gpt-4o"].cached_input_usd_per_mtok == 1.25
    assert config.deployments["sim-gpt-4o-mini"].cached_input_usd_per_mtok is None
    assert config.models["smart-chat"].deployments == (
        "sim-gpt-4o",
        "sim-claude-sonnet",
        "sim-gemini-flash",
        "sim-gpt-4o-mini",
    )
    assert [k.id for k in config.keys] == ["demo", "team-b"]
    assert config.keys[0].key_sha256 == hash_key("sk-turnout-demo")
    assert config.keys[1].models == ("best-cheap-chat",)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets the dotted ``path`` (list indexes as numbers) to ``value``."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "path", "expected"),
    [
        (_set("bogus", 1), "bogus:", "Extra inputs are not permitted"),
        (_set("gateway.bogus", 1), "gateway.bogus:", "Extra inputs are not permitted"),
        (_set("providers.simulator.bogus", 1), "providers.simulator.bogus:", "Extra inputs are not permitted"),
        (_set("gateway.port", "eighty"), "gateway.port:", "valid integer"),
        (_set("topology.concurrency", [1]), "topology.concurrency:", "valid integer"),
        (_set("gateway.port", 70000), "gateway.port:", "less than or equal to 65535"),
        (_set("kafka.partitions", 0), "kafka.partitions:", "greater than or equal to 1"),
        (_set("gateway.request_timeout_s", 0), "gateway.request_timeout_s:", "greater than 0"),
        (
            _set("deployments.sim-gpt-4o.input_usd_per_mtok", -1),
            "deployments.sim-gpt-4o.input_usd_per_mtok:",
            "greater than or equal to 0",
        ),
        (_set("topology.layout", "ring"), "topology.layout:", "'split' or 'fused'"),
        (_set("kafka.topic_prefix", "a b"), "kafka.topic_prefix:", "should match pattern"),
        (_set("providers.simulator.kind", "cohere"), "providers.simulator.kind:", "'openai', 'anthropic'"),
        (_set("models.smart-chat.deployments", []), "models.smart-chat.deployments:", "at least 1 item"),
        (_drop("providers.simulator.base_url"), "providers.simulator.base_url:", "Field required"),
        (_set("keys", []), "keys:", "at least 1 item"),
        (
            _set("models.smart-chat.deployments", ["nope"]),
            "models.smart-chat.deployments.0:",
            "unknown deployment 'nope'",
        ),
        (
            _set("models.smart-chat.deployments", ["sim-gpt-4o", "nope"]),
            "models.smart-chat.deployments.1:",
            "unknown deployment 'nope'",
        ),
        (
            _set("deployments.sim-gpt-4o.provider", "nope"),
            "deployments.sim-gpt-4o.provider:",
            "unknown provider 'nope'",
        ),
        (_set("keys.1.models", ["nope"]), "keys.1.models:", "unknown model 'nope'"),
        (_set("keys.0.key_env", "DEMO_KEY"), "keys.0:", "exactly one of key_sha256 or key_env"),
        (_drop("keys.0.key_sha256"), "keys.0:", "exactly one of key_sha256 or key_env"),
        (_set("keys.0.key_sha256", "not-a-hash"), "keys.0.key_sha256:", "should match pattern"),
        (_set("keys.0.bogus", 1), "keys.0.bogus:", "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused_with_the_path_and_what_was_expected(
    example_data: dict[str, Any], mutate: Callable[[dict[str, Any]], None], path: str, expected: str
) -> None:
    data = copy.deepcopy(example_data)
    mutate(data)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, "the-file.yaml")
    message = str(caught.value)
    assert message.startswith("invalid config the-file.yaml:")
    assert path in message
    assert expected in message


def test_every_problem_is_reported_at_once(example_data: dict[str, Any]) -> None:
    data = copy.deepcopy(example_data)
    data["gateway"]["port"] = -1
    data["kafka"]["bogus"] = True
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert "gateway.port:" in str(caught.value)
    assert "kafka.bogus:" in str(caught.value)


@pytest.mark.parametrize(
    ("model", "attribute", "value"),
    [
        (lambda c: c, "gateway", None),
        (lambda c: c.gateway, "port", 1),
        (lambda c: c.kafka, "topic_prefix", "other"),
        (lambda c: c.providers["simulator"], "base_url", "http://elsewhere"),
        (lambda c: c.deployments["sim-gpt-4o"], "model", "gpt-5"),
        (lambda c: c.models["smart-chat"], "deployments", ("sim-gpt-4o-mini",)),
        (lambda c: c.keys[0], "tier", "enterprise"),
    ],
)
def test_config_models_are_frozen(model: Callable[[TurnoutConfig], Any], attribute: str, value: Any) -> None:
    config = load_config(EXAMPLE)
    target = model(config)
    before = getattr(target, attribute)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        setattr(target, attribute, value)
    assert getattr(target, attribute) == before


def _write(tmp_path: Path, data: dict[str, Any], name: str = "turnout.yaml") -> Path:
    path = tmp_path / "conf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("chdb:///./data/ch", "chdb://{dir}/data/ch"),
        ("chdb:///../.run/clickhouse", "chdb://{parent}/.run/clickhouse"),
        ("chdb:///.run/clickhouse", "chdb://{dir}/.run/clickhouse"),
        ("chdb:///var/lib/ch", "chdb:///var/lib/ch"),
        ("chdb://memory", "chdb://memory"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_load_config_resolves_relative_chdb_paths_against_the_file(
    tmp_path: Path, example_data: dict[str, Any], dsn: str, expected: str
) -> None:
    data = copy.deepcopy(example_data)
    data["clickhouse"]["dsn"] = dsn
    path = _write(tmp_path, data)
    config = load_config(path)
    folder = path.parent.resolve()
    assert config.clickhouse.dsn == expected.format(dir=folder, parent=folder.parent)


def test_load_config_resolves_the_default_dsn_too(tmp_path: Path, example_data: dict[str, Any]) -> None:
    data = copy.deepcopy(example_data)
    del data["clickhouse"]
    config = load_config(_write(tmp_path, data))
    assert config.clickhouse.dsn == f"chdb://{(tmp_path / 'conf').resolve()}/.run/clickhouse"


def test_load_config_refuses_a_chdb_dsn_without_a_path(tmp_path: Path, example_data: dict[str, Any]) -> None:
    data = copy.deepcopy(example_data)
    data["clickhouse"]["dsn"] = "chdb://relative/path"
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"clickhouse\.dsn: use chdb:///") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("42\n", "the top level must be a mapping"),
        ("gateway: [unclosed\n", "cannot read config"),
    ],
)
def test_load_config_refuses_unreadable_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_load_config_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def _with_env_key(example_data: dict[str, Any]) -> TurnoutConfig:
    data = copy.deepcopy(example_data)
    del data["keys"][1]["key_sha256"]
    data["keys"][1]["key_env"] = "TEAM_B_KEY"
    return parse_config(data)


def test_resolve_secrets_maps_each_hash_to_its_key_id(example_data: dict[str, Any]) -> None:
    config = _with_env_key(example_data)
    hashes = resolve_secrets(config, environ={"TEAM_B_KEY": "sk-from-env"})
    assert hashes == {hash_key("sk-turnout-demo"): "demo", hash_key("sk-from-env"): "team-b"}


@pytest.mark.parametrize("environ", [{}, {"TEAM_B_KEY": ""}])
def test_resolve_secrets_refuses_an_unset_key_env(example_data: dict[str, Any], environ: dict[str, str]) -> None:
    config = _with_env_key(example_data)
    with pytest.raises(ConfigError) as caught:
        resolve_secrets(config, environ=environ)
    message = str(caught.value)
    assert "TEAM_B_KEY" in message
    assert "is not set" in message
    # the same path convention as every other config error: keys are a list, named by index
    assert message.startswith("keys.1.key_env:")


def test_hash_key_is_sha256_hex() -> None:
    assert hash_key("sk-turnout-demo") == "24996f62273bc18d2cc7736b9198e156337aa26ca27b92b8bcf6fb6ac002275d"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"SIMULATOR_API_KEY": "sk-up"}, "sk-up"), ({}, None)],
)
def test_provider_api_key_reads_the_named_variable(environ: dict[str, str], expected: str | None) -> None:
    config = load_config(EXAMPLE)
    assert provider_api_key(config.providers["simulator"], environ=environ) == expected


def test_provider_without_api_key_env_has_no_key() -> None:
    provider = schemas.config.ProviderConfig(base_url="http://x")
    assert provider_api_key(provider, environ={"SIMULATOR_API_KEY": "sk-up"}) is None
