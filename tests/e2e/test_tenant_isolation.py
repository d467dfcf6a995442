"""Two tenants through one stack, every part at once: the cache, rate limits, feedback, analytics
queries and the dashboards. Nothing one tenant does or has is visible to, or spent by, the other."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from schemas.config import SinkConfig, TurnoutConfig, hash_key
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

RUN = uuid.uuid4().hex[:6]
MODEL = "best-cheap-chat"  # the one model both example keys may use
ACME_KEY, GLOBEX_KEY = "sk-turnout-demo", "sk-turnout-team-b"  # tenants acme (user demo-user) and globex (bob)
ADMIN_TOKEN, ACME_TOKEN, GLOBEX_TOKEN = (f"reader-{who}-{RUN}" for who in ("admin", "acme", "globex"))
LIMIT = 20  # requests per tenant per hour on MODEL
NO_STORE = {"cache-control": "no-store"}


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    models = {MODEL: {"deployments": ["sim-gpt-4o-mini"], "cache": {"mode": "semantic", "ttl_s": 600}}}
    readers = [
        {"name": "admin", "token_sha256": hash_key(ADMIN_TOKEN)},
        {"name": "acme-analyst", "token_sha256": hash_key(ACME_TOKEN), "tenant": "acme"},
        {"name": "globex-analyst", "token_sha256": hash_key(GLOBEX_TOKEN), "tenant": "globex"},
    ]
    limits = [{"name": "per-tenant", "scope": "tenant", "requests": LIMIT, "window_s": 3600, "model": MODEL}]
    env_name = SinkConfig().client_token_env
    previous = os.environ.get(env_name)
    os.environ[env_name] = ADMIN_TOKEN  # what the gateway (feedback checks) and run_sql present
    try:
        with running_stack(make_config, workers=2, models=models, sink={"readers": readers}, limits_list=limits) as run:
            yield run
    finally:
        if previous is None:
            os.environ.pop(env_name, None)
        else:
            os.environ[env_name] = previous


def _ask(stack: Stack, key: str, text: str, headers: dict[str, str] | None = None) -> Any:
    """The reply's headers, through the openai SDK."""
    sdk = openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=30)
    raw = sdk.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": text}], temperature=0, extra_headers=headers or {}
    )
    return raw.headers


def _query(stack: Stack, token: str, sql: str) -> list[list[Any]]:
    response = httpx.post(
        f"{stack.sink_url}/query",
        content=sql.replace("{db}", "turnout").encode(),
        headers={"authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows: list[list[Any]] = response.json()["rows"]
    return rows


def test_two_tenants_share_nothing(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    question = f"What is the tallest mountain in the Alps? ({RUN})"

    # the cache: acme's answer is reused for acme, never for globex
    first = _ask(stack, ACME_KEY, question)
    assert first["x-turnout-cache"] == "miss"
    acme_id = first["x-request-id"]
    wait_until(lambda: _ask(stack, ACME_KEY, question, NO_STORE)["x-turnout-cache"] == "hit", 30, "acme's cache hit")
    other = _ask(stack, GLOBEX_KEY, question, NO_STORE)
    assert other["x-turnout-cache"] == "miss"
    assert "x-turnout-cache-similarity" not in other  # not even a near candidate from acme
    globex_id = other["x-request-id"]

    # limits: acme spends its tenant's allowance; globex's is untouched
    with pytest.raises(openai.RateLimitError) as limited:
        for i in range(LIMIT + 1):
            _ask(stack, ACME_KEY, f"filler {i} {RUN}", NO_STORE)
    assert limited.value.code == "rate_limit_exceeded"
    assert _ask(stack, GLOBEX_KEY, f"still served {RUN}", NO_STORE)["x-request-id"]

    # feedback: on one's own request only; another tenant's is as unknown as a made-up id
    def feedback(key: str, request_id: str) -> httpx.Response:
        return httpx.post(
            f"{stack.base_url}/feedback",
            headers={"authorization": f"Bearer {key}"},
            json={"request_id": request_id, "score": 1.0},
            timeout=30,
        )

    assert feedback(GLOBEX_KEY, acme_id).status_code == 404
    assert feedback(ACME_KEY, globex_id).status_code == 404
    assert feedback(ACME_KEY, acme_id).status_code == 200
    assert feedback(GLOBEX_KEY, globex_id).status_code == 200

    # analytics queries: each tenant's reader sees its own rows, the admin reader sees both
    db = config.clickhouse.database
    wait_until(
        lambda: run_sql(config, f"SELECT count() FROM {db}.feedback FINAL").rows[0][0] == 2, 30, "the feedback rows"
    )
    everyone = dict(map(tuple, _query(stack, ADMIN_TOKEN, "SELECT tenant, count() FROM {db}.requests GROUP BY 1")))
    assert set(everyone) == {"acme", "globex"}
    for token, tenant in ((ACME_TOKEN, "acme"), (GLOBEX_TOKEN, "globex")):
        own = _query(stack, token, "SELECT tenant, count() FROM {db}.requests FINAL GROUP BY 1")
        assert own == [[tenant, everyone[tenant]]]
        assert _query(stack, token, "SELECT DISTINCT tenant FROM {db}.feedback") == [[tenant]]
        assert _query(stack, token, "SELECT count() FROM {db}.requests_daily WHERE tenant != '" + tenant + "'") == [[0]]
    refused = httpx.post(
        f"{stack.sink_url}/query",
        content=b"SELECT query FROM system.query_log",
        headers={"authorization": f"Bearer {ACME_TOKEN}"},
        timeout=30,
    )
    assert refused.status_code == 403

    # dashboards: a login is needed, and a tenant's reader sees its tenant whatever the filter says
    assert httpx.get(f"{stack.sink_url}/dashboards/finance", timeout=30).status_code == 401
    basic = base64.b64encode(f"acme-analyst:{ACME_TOKEN}".encode()).decode()
    page = httpx.get(
        f"{stack.sink_url}/dashboards/finance?tenant=globex", headers={"authorization": f"Basic {basic}"}, timeout=30
    )
    assert page.status_code == 200
    assert "demo-user" in page.text and "bob" not in page.text
    admin = httpx.get(f"{stack.sink_url}/dashboards/finance", headers={"authorization": f"Bearer {ADMIN_TOKEN}"})
    assert "demo-user" in admin.text and "bob" in admin.text
