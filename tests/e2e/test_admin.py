"""The admin API on its own port: its own token, the keys without their secrets, kill switches,
and a config reload that is atomic (a bad file is refused and the running config stays) and that
both workers, and a second gateway, take up without a restart."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from schemas.config import TurnoutConfig, hash_key
from tests.conftest import free_port
from tests.e2e.stacks import running_stack
from turnout.stack import Stack, wait_until

ADMIN_TOKEN = "admin-token-for-the-tests"
os.environ.setdefault("TURNOUT_TEST_ADMIN_TOKEN", ADMIN_TOKEN)
NEW_KEY = "sk-turnout-added-by-reload"


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    admin = {"admin_port": free_port(), "admin_token_env": "TURNOUT_TEST_ADMIN_TOKEN"}
    topology = {"web_port": free_port(span=2)}  # the workers' /metrics: this port and the next
    with running_stack(make_config, workers=2, gateway=admin, topology=topology) as run:
        yield run


def _admin(config: TurnoutConfig, method: str, path: str, token: str | None = ADMIN_TOKEN, **kw: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = f"http://127.0.0.1:{config.gateway.admin_port}{path}"
    return httpx.request(method, url, headers=headers, timeout=30, **kw)


def _add_key(data: dict[str, Any], key_id: str, secret: str, user: str) -> None:
    """A virtual key of acme's, for best-cheap-chat only, added to the config ``data``."""
    entry = {"id": key_id, "key_sha256": hash_key(secret), "tenant": "acme", "team": "t", "user": user}
    data["keys"].append({**entry, "models": ["best-cheap-chat"]})


def _chat(stack: Stack | str, key: str, model: str = "best-cheap-chat", text: str = "hi") -> int:
    return _answer(stack, key, model, text)[0]


def _answer(stack: Stack | str, key: str, model: str, text: str) -> tuple[int, str]:
    """Status and text of one chat completion from ``stack``'s gateway, or from the one at a base URL."""
    base_url = stack if isinstance(stack, str) else stack.base_url
    sdk = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)
    try:
        reply = sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
    except openai.APIStatusError as exc:
        return exc.status_code, ""
    return 200, reply.choices[0].message.content or ""


def _versions_at(metrics_url: str) -> set[str]:
    text = httpx.get(metrics_url, timeout=10).text
    return set(re.findall(r'turnout_config_info\{version="([0-9a-f]+)"\} 1', text))


def _worker_versions(stack: Stack) -> set[str]:
    return _versions_at(stack.worker_metrics_url(0)) | _versions_at(stack.worker_metrics_url(1))


def _gateway_versions(base_url: str) -> set[str]:
    return _versions_at(base_url.removesuffix("/v1") + "/metrics")


def _reload(config: TurnoutConfig, path: Path, data: dict[str, Any]) -> str:
    """Write ``data`` as the config file and reload it; the version the admin API took up."""
    path.write_text(yaml.safe_dump(data))
    reloaded = _admin(config, "POST", "/admin/reload")
    assert reloaded.status_code == 200, reloaded.text
    version: str = reloaded.json()["version"]
    return version


def test_its_own_port_and_token(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    assert _admin(config, "GET", "/admin/keys", token=None).status_code == 401
    assert _admin(config, "GET", "/admin/keys", token="sk-turnout-demo").status_code == 401  # a key is no admin
    public = httpx.get(stack.base_url.removesuffix("/v1") + "/admin/keys", timeout=10)
    assert public.status_code == 404  # not on the public port
    keys = _admin(config, "GET", "/admin/keys").json()["keys"]
    assert {k["id"] for k in keys} == {"demo", "team-b"}
    assert all(set(k) == {"id", "tenant", "team", "user", "tier", "models"} for k in keys)  # no hashes


def test_kill_switches_through_the_admin_api(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    assert _chat(stack, "sk-turnout-team-b") == 200
    killed = _admin(config, "POST", "/admin/kill", json={"scope": "tenant", "value": "globex", "reason": "drill"})
    assert killed.status_code == 200 and killed.json()["killed"] is True
    wait_until(lambda: _chat(stack, "sk-turnout-team-b") == 403, 30, "the kill switch")
    assert _chat(stack, "sk-turnout-demo") == 200  # another tenant is not touched
    assert _admin(config, "DELETE", "/admin/kill", json={"scope": "tenant", "value": "globex"}).status_code == 200
    wait_until(lambda: _chat(stack, "sk-turnout-team-b") == 200, 30, "the switch lifted")
    bad = _admin(config, "POST", "/admin/kill", json={"scope": "planet", "value": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "scope"


def test_a_reload_takes_a_good_file_and_refuses_a_bad_one(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    path = Path(stack.config_path)
    original = path.read_text()
    data = yaml.safe_load(original)
    assert _chat(stack, NEW_KEY) == 401
    _add_key(data, "added", NEW_KEY, user="new")
    try:
        path.write_text(yaml.safe_dump(data))
        reloaded = _admin(config, "POST", "/admin/reload")
        assert reloaded.status_code == 200 and reloaded.json()["keys"] == 3
        assert _chat(stack, NEW_KEY) == 200
        assert _chat(stack, NEW_KEY, model="smart-chat") == 403  # the new key's own model list applies
        data["models"]["best-cheap-chat"]["deployments"] = ["no-such-deployment"]
        path.write_text(yaml.safe_dump(data))
        refused = _admin(config, "POST", "/admin/reload")
        assert refused.status_code == 400
        assert "models.best-cheap-chat.deployments.0" in refused.json()["error"]["message"]
        assert _chat(stack, NEW_KEY) == 200 and _chat(stack, "sk-turnout-demo") == 200  # still the last good one
    finally:
        path.write_text(original)


def test_a_reload_reaches_both_workers_without_a_restart(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    path = Path(stack.config_path)
    original = path.read_text()
    data = yaml.safe_load(original)
    assert _answer(stack, "sk-turnout-demo", "smart-chat", "before")[1] == "Simulated reply from gpt-4o: before"
    data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o-mini"]  # a route moved
    data["models"]["smart-chat"]["guardrails"] = {"banned": {"action": "block", "keywords": ["project kestrel"]}}
    data["models"]["reloaded-chat"] = {"deployments": ["sim-gpt-4o-mini"]}  # a route added
    try:
        version = _reload(config, path, data)
        wait_until(lambda: _worker_versions(stack) == {version}, 30, "both workers on the new config")
        for i in range(8):  # over both partitions, so both workers answer some
            assert _answer(stack, "sk-turnout-demo", "smart-chat", f"after {i}") == (
                200,
                f"Simulated reply from gpt-4o-mini: after {i}",
            )
        assert _answer(stack, "sk-turnout-demo", "reloaded-chat", "new")[0] == 200
        assert _chat(stack, "sk-turnout-demo", "smart-chat", "tell me about Project Kestrel") == 400

        data["topology"]["concurrency"] = 7  # needs a restart: refused before anything changes
        data["models"]["smart-chat"]["deployments"] = ["sim-gpt-4o"]
        path.write_text(yaml.safe_dump(data))
        refused = _admin(config, "POST", "/admin/reload")
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "restart_required"
        assert "topology" in refused.json()["error"]["message"]
        assert _answer(stack, "sk-turnout-demo", "smart-chat", "kept")[1] == "Simulated reply from gpt-4o-mini: kept"
        assert _worker_versions(stack) == {version}
    finally:
        path.write_text(original)
    restored = _admin(config, "POST", "/admin/reload")
    assert restored.status_code == 200
    wait_until(lambda: _worker_versions(stack) == {restored.json()["version"]}, 30, "both workers back")
    assert _answer(stack, "sk-turnout-demo", "smart-chat", "back")[1] == "Simulated reply from gpt-4o: back"


def test_a_reload_through_one_gateway_reaches_another(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    second = stack.start_gateway("gateway-2", port=free_port(), admin_port=0)  # no admin API of its own
    wait_until(lambda: _healthy(second), 60, "the second gateway")
    key = "sk-turnout-seen-by-every-gateway"
    assert _chat(second, key) == 401
    path = Path(stack.config_path)
    original = path.read_text()
    data = yaml.safe_load(original)
    _add_key(data, "everywhere", key, user="u2")
    try:
        version = _reload(config, path, data)
        wait_until(lambda: _gateway_versions(second) == {version}, 30, "the second gateway on the new config")
        assert _chat(second, key) == 200 and _chat(stack, key) == 200
        assert _gateway_versions(stack.base_url) == {version}
        data["topology"]["concurrency"] = 7  # refused by the admin API: nothing is published
        path.write_text(yaml.safe_dump(data))
        assert _admin(config, "POST", "/admin/reload").status_code == 409
        assert _gateway_versions(second) == {version} and _chat(second, key) == 200
    finally:
        path.write_text(original)
    restored = _admin(config, "POST", "/admin/reload")
    assert restored.status_code == 200
    wait_until(lambda: _gateway_versions(second) == {restored.json()["version"]}, 30, "the second gateway back")
    assert _chat(second, key) == 401  # the key is gone from both
    assert _chat(stack, key) == 401


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(base_url.removesuffix("/v1") + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
