"""Output checks that need more than patterns, through the whole stack.

Faithfulness on RAG routes: the SDKs send the retrieved chunks in ``turnout.context``; the provider
(the simulator, told what to answer) replies; a supported answer passes with its score recorded, an
unsupported one is flagged or blocked as the route says. Moderation: the simulator's own
``/v1/moderations`` judges each reply; a flagged one is blocked or flagged, and an endpoint that is
down is allowed or blocked as the route says."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import openai
import pytest

from schemas.config import TurnoutConfig
from tests.e2e.stacks import running_stack
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

RUN = uuid.uuid4().hex[:6]
UPSTREAM = f"rag-model-{RUN}"
CHUNKS = [
    "The Acme X200 warranty covers manufacturing defects for 24 months from the date of purchase.",
    {"id": "returns-1", "text": "Returns are accepted within 30 days if the product is unused."},
]
MODERATED = {"moderation": {"provider": "simulator", "timeout_ms": 3000}}
DOWN = {"moderation": {"provider": "dead-moderator", "timeout_ms": 500}}
SLOW = {"moderation": {"provider": "simulator", "model": "sim-slow-400", "timeout_ms": 3000}}
VIOLENT = "To win the argument, kill the power to his house and wait."
SUPPORTED = "The X200 warranty covers manufacturing defects for 24 months from purchase."
UNSUPPORTED = "The X200 is waterproof to fifty meters. It ships with a lifetime warranty and a free case."


@pytest.fixture(scope="module")
def gateway(make_config: Any) -> Iterator[tuple[Stack, TurnoutConfig]]:
    deployments = {"sim-rag": {"provider": "simulator", "model": UPSTREAM}}
    models = {
        "rag-chat": {"deployments": ["sim-rag"], "guardrails": {"faithfulness": {"action": "block"}}},
        "rag-flag-chat": {"deployments": ["sim-rag"]},  # the default: flag
        "moderated-chat": {"deployments": ["sim-rag"], "guardrails": {"content": {"action": "block", **MODERATED}}},
        "moderated-flag-chat": {"deployments": ["sim-rag"], "guardrails": {"content": MODERATED}},
        "moderator-down-chat": {"deployments": ["sim-rag"], "guardrails": {"content": DOWN}},
        "slow-moderated-chat": {"deployments": ["sim-rag"], "guardrails": {"content": SLOW}},
        "moderator-down-strict-chat": {
            "deployments": ["sim-rag"],
            "guardrails": {"content": {"moderation": {**DOWN["moderation"], "on_error": "block"}}},
        },
    }
    providers = {"dead-moderator": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}}
    with running_stack(make_config, workers=1, deployments=deployments, models=models, providers=providers) as run:
        yield run


def _answer_with(stack: Stack, text: str) -> None:
    rule = {"model": UPSTREAM, "knobs": {"reply": text}, "times": 1}
    httpx.post(f"{stack.simulator_url}/_sim/faults", json=rule, timeout=10).raise_for_status()


def _ask(stack: Stack, model: str, context: list[Any] | None) -> Any:
    sdk = openai.OpenAI(base_url=stack.base_url, api_key="sk-turnout-demo", max_retries=0, timeout=30)
    extra = {"turnout": {"context": context}} if context is not None else None
    return sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "How long is the X200 warranty?"}], extra_body=extra
    )


def _guard(config: TurnoutConfig, request_id: str) -> list[Any]:
    db = config.clickhouse.database
    sql = (
        f"SELECT r.guard_action, g.action, g.category, g.score FROM {db}.requests AS r FINAL "
        f"LEFT JOIN (SELECT * FROM {db}.guard_events FINAL WHERE guardrail = 'faithfulness') AS g "
        f"ON g.request_id = r.request_id WHERE r.request_id = '{request_id}'"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 1, 30, f"the row of {request_id}")
    return list(run_sql(config, sql).rows[0])


def test_a_supported_answer_passes_with_its_score(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, SUPPORTED)
    raw = _ask(stack, "rag-chat", CHUNKS)
    assert raw.parse().choices[0].message.content == SUPPORTED
    assert _guard(config, raw.headers["x-request-id"]) == ["pass", "pass", "supported", 1.0]


def test_an_unsupported_answer_is_blocked_on_a_blocking_route(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, UNSUPPORTED)
    with pytest.raises(openai.BadRequestError) as err:
        _ask(stack, "rag-chat", CHUNKS)
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "guardrail_blocked" and "faithfulness" in body["message"]
    assert "waterproof" not in body["message"]  # the answer is not echoed
    request_id = err.value.response.headers["x-request-id"]
    assert _guard(config, request_id) == ["block", "block", "unsupported", 0.0]


def test_an_unsupported_answer_is_flagged_by_default(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, f"{SUPPORTED} {UNSUPPORTED}")
    raw = _ask(stack, "rag-flag-chat", CHUNKS)
    assert raw.parse().choices[0].message.content.startswith(SUPPORTED)
    action, event_action, category, score = _guard(config, raw.headers["x-request-id"])
    assert (action, event_action, category) == ("flag", "flag", "unsupported")
    assert score == pytest.approx(1 / 3)


def test_without_context_there_is_nothing_to_check(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, UNSUPPORTED)
    raw = _ask(stack, "rag-chat", None)
    assert _guard(config, raw.headers["x-request-id"]) == ["pass", "", "", None]


def test_bad_context_is_a_400_naming_the_field(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    with pytest.raises(openai.BadRequestError) as err:
        _ask(stack, "rag-chat", [{"title": "no text"}])
    assert isinstance(err.value.body, dict) and err.value.body["param"] == "turnout.context.0"


def test_the_anthropic_sdk_sends_context_the_same_way(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, _ = gateway
    _answer_with(stack, UNSUPPORTED)
    claude = anthropic.Anthropic(base_url=stack.base_url.removesuffix("/v1"), api_key="sk-turnout-demo", max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as err:
        claude.messages.create(
            model="rag-chat",
            max_tokens=64,
            messages=[{"role": "user", "content": "How long is the X200 warranty?"}],
            extra_body={"turnout": {"context": CHUNKS}},
        )
    assert "faithfulness" in str(err.value)


def _events(config: TurnoutConfig, request_id: str) -> list[list[Any]]:
    db = config.clickhouse.database
    sql = (
        f"SELECT guardrail, action, category FROM {db}.guard_events FINAL "
        f"WHERE request_id = '{request_id}' AND stage = 'output' ORDER BY category"
    )
    wait_until(
        lambda: len(run_sql(config, f"SELECT 1 FROM {db}.requests FINAL WHERE request_id = '{request_id}'").rows) == 1,
        30,
        "the row",
    )
    return [list(r) for r in run_sql(config, sql).rows]


def test_a_reply_the_moderation_endpoint_flags_is_blocked_or_flagged(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, VIOLENT)
    with pytest.raises(openai.BadRequestError) as err:
        _ask(stack, "moderated-chat", None)
    body = err.value.body
    assert isinstance(body, dict) and body["code"] == "guardrail_blocked" and "moderation:violence" in body["message"]
    assert "kill" not in body["message"]
    request_id = err.value.response.headers["x-request-id"]
    assert _events(config, request_id) == [["content", "block", "moderation:violence"]]
    _answer_with(stack, VIOLENT)
    flagged = _ask(stack, "moderated-flag-chat", None)
    assert flagged.parse().choices[0].message.content == VIOLENT
    assert _events(config, flagged.headers["x-request-id"]) == [["content", "flag", "moderation:violence"]]
    _answer_with(stack, SUPPORTED)
    clean = _ask(stack, "moderated-chat", None)
    assert clean.parse().choices[0].message.content == SUPPORTED
    assert _events(config, clean.headers["x-request-id"]) == []


def test_a_moderation_endpoint_that_is_down_is_allowed_or_blocked(gateway: tuple[Stack, TurnoutConfig]) -> None:
    stack, config = gateway
    _answer_with(stack, SUPPORTED)
    allowed = _ask(stack, "moderator-down-chat", None)
    assert allowed.parse().choices[0].message.content == SUPPORTED
    assert _events(config, allowed.headers["x-request-id"]) == [["content", "flag", "moderation:unavailable"]]
    _answer_with(stack, SUPPORTED)
    with pytest.raises(openai.BadRequestError) as err:
        _ask(stack, "moderator-down-strict-chat", None)
    assert isinstance(err.value.body, dict) and "moderation:unavailable" in err.value.body["message"]


def test_the_split_output_guard_works_on_several_replies_at_once(gateway: tuple[Stack, TurnoutConfig]) -> None:
    """Each split stage agent takes several events at once. Four replies wait on a slow moderator
    (400 ms each) in the one worker's output guard: one at a time, each would finish at least 400 ms
    after the one before; together, some finish closer than that."""
    stack, config = gateway
    assert config.topology.layout == "split"
    with ThreadPoolExecutor(4) as pool:
        raws = list(pool.map(lambda _: _ask(stack, "slow-moderated-chat", None), range(4)))
    ids = ", ".join(f"'{r.headers['x-request-id']}'" for r in raws)
    sql = (
        f"SELECT toUnixTimestamp64Micro(finished_at), guard_us FROM {config.clickhouse.database}.requests FINAL "
        f"WHERE request_id IN ({ids}) ORDER BY finished_at"
    )
    wait_until(lambda: len(run_sql(config, sql).rows) == 4, 30, "the four rows")
    rows = run_sql(config, sql).rows
    assert all(guard_us >= 400_000 for _, guard_us in rows), rows  # each waited on the moderator
    gaps_us = [int(b[0]) - int(a[0]) for a, b in itertools.pairwise(rows)]
    assert min(gaps_us) < 400_000, gaps_us
