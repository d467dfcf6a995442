"""Routing by complexity through the whole stack: the openai SDK names one logical model; easy
prompts are served by the cheap model, hard ones by the strong one, and the row says why."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

SIMPLE = "Translate 'good morning' into French."
COMPLEX = (
    "Find the bug in this interval-merging function, explain why it happens, and prove the fix correct:\n"
    "```python\ndef merge(xs):\n    xs.sort()\n    out = []\n    for a, b in xs:\n"
    "        if out and a <= out[-1][1]:\n            out[-1][1] = max(out[-1][1], b)\n"
    "        else:\n            out.append([a, b])\n    return out[:-1]\n```"
)


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    with running_stack(make_config, workers=1) as run:  # auto-chat routes, as in the example config
        yield run


def test_easy_prompts_go_to_the_cheap_model_and_hard_ones_to_the_strong_one(
    gateway: tuple[Stack, TurnoutConfig],
) -> None:
    stack, config = gateway
    sdk = openai.OpenAI(base_url=stack.base_url, api_key="sk-turnout-demo", max_retries=0, timeout=30)
    served = {}
    for name, prompt in (("simple", SIMPLE), ("complex", COMPLEX)):
        raw = sdk.chat.completions.with_raw_response.create(
            model="auto-chat", messages=[{"role": "user", "content": prompt}]
        )
        reply = raw.parse()
        assert reply.model == "auto-chat"  # the client sees the model it named
        served[name] = (raw.headers["x-request-id"], (reply.choices[0].message.content or "").split(":")[0])
    assert served["simple"][1] == "Simulated reply from gpt-4o-mini"
    assert served["complex"][1] == "Simulated reply from gpt-4o"
    ids = ",".join(f"'{rid}'" for rid, _ in served.values())
    sql = (
        f"SELECT logical_model, routed_model, deployment, route_reason, route_score FROM "
        f"{config.clickhouse.database}.requests FINAL WHERE request_id IN ({ids}) ORDER BY route_score"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 2, 30, "request rows")
    (easy, hard) = run_sql(config, sql).rows
    assert easy[:4] == ["auto-chat", "best-cheap-chat", "sim-gpt-4o-mini", "simple"]
    assert hard[:4] == ["auto-chat", "auto-chat", "sim-gpt-4o", "complex"]
    assert 0 <= easy[4] < hard[4] <= 1
