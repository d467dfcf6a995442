"""``Pipeline``: runs the stage cores in order, and turns every failure into an answer, never an exception."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest

from schemas.config import TurnoutConfig
from schemas.errors import ProviderOverloaded, TurnoutError
from schemas.events import Attempt, ChatResponse, ErrorInfo, StageEvent, Usage
from streams.invoker import InvokeOutcome
from streams.pipeline import Pipeline, entering
from streams.stages.answer import Answer
from streams.topics import STAGE_ORDER

RECEIVED = 1_700_000_000_000_000
USAGE = Usage(prompt_tokens=1_000, completion_tokens=500, cached_tokens=400, total_tokens=1_500)
RESPONSE = ChatResponse(
    id="chatcmpl-1", content="Hi there", finish_reason="stop", usage=USAGE, upstream_model="gpt-4o", created=1
)


class RecordingEmitter:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    async def send(self, topic: str, key: str, event: Any, trace: str | None = None) -> Awaitable[Any]:
        self.sent.append((topic, key, event))
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ack.set_result(None)
        return ack

    async def send_later(self, topic: str, key: str, event: Any) -> None:
        await self.send(topic, key, event)

    def flush(self) -> None:
        pass  # nothing is held: send is at once


class FakeInvoker:
    """Answers with ``response`` (and one ok attempt), or fails with ``error`` or ``crash``."""

    def __init__(
        self,
        response: ChatResponse | None = RESPONSE,
        error: TurnoutError | None = None,
        crash: Exception | None = None,
    ) -> None:
        self.response = response
        self.error = error
        self.crash = crash
        self.calls: list[StageEvent] = []

    async def invoke(self, event: StageEvent, emitter: Any) -> InvokeOutcome:
        self.calls.append(event)
        if self.crash is not None:
            raise self.crash
        assert event.route is not None
        attempt = Attempt(
            deployment=event.route.deployment,
            provider=event.route.provider,
            ok=self.error is None,
            started_at_us=RECEIVED + 1_000,
            latency_us=4_000,
            error_class=type(self.error).__name__ if self.error else None,
            http_status=self.error.status if self.error else None,
            ttft_us=None if self.error else 1_500,
        )
        if self.error is not None:
            return InvokeOutcome(replace(event, attempts=[*event.attempts, attempt]), self.error)
        return InvokeOutcome(replace(event, response=self.response, attempts=[*event.attempts, attempt]))


def _clock(start: int = RECEIVED + 100, step: int = 100) -> Callable[[], int]:
    ticks = itertools.count(start, step)
    return lambda: next(ticks)


def _pipeline(config: TurnoutConfig, invoker: FakeInvoker, clock: Callable[[], int] | None = None) -> Pipeline:
    return Pipeline(config, invoker, clock or _clock())  # type: ignore[arg-type]


async def test_run_from_runs_every_stage_and_answers(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]
) -> None:
    invoker = FakeInvoker()
    emitter = RecordingEmitter()
    answer = await _pipeline(example_config, invoker).run_from("input_guard", stage_event(), emitter)

    assert isinstance(answer, Answer)
    (invoked,) = invoker.calls
    assert invoked.stage == "route"
    assert [t.stage for t in invoked.timings] == ["input_guard", "cache", "route"]
    assert all(t.started_at_us < t.ended_at_us for t in invoked.timings)
    assert invoked.input_guard is not None and invoked.input_guard.action == "pass"
    assert invoked.cache is not None and invoked.cache.status == "skip"  # no model here caches
    assert invoked.route is not None and invoked.route.deployment == "sim-gpt-4o"

    assert answer.reply_to == "turnout.replies.gw-1"
    assert answer.reply.response == RESPONSE
    assert answer.reply.error is None
    assert answer.reply.deployment == "sim-gpt-4o"
    record = answer.record
    assert (record.status, record.deployment, record.provider, record.upstream_model) == (
        200,
        "sim-gpt-4o",
        "simulator",
        "gpt-4o",
    )
    assert record.usage == USAGE
    # sim-gpt-4o: 600 uncached at 2.50, 400 cached at 1.25, 500 out at 10.00 per million
    assert record.cost_usd == pytest.approx((600 * 2.5 + 400 * 1.25 + 500 * 10.0) / 1e6)
    assert record.upstream_us == 4_000
    assert record.ttft_us == 1_500
    assert record.guard_action == "pass"
    assert emitter.sent == []  # the fake invoker sends nothing; the pipeline itself sends nothing either


async def test_run_from_the_middle(example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]) -> None:
    invoker = FakeInvoker()
    answer = await _pipeline(example_config, invoker).run_from(
        "route", stage_event(model="best-cheap-chat"), RecordingEmitter()
    )
    assert [t.stage for t in invoker.calls[0].timings] == ["route"]
    assert answer.record.deployment == "sim-gpt-4o-mini"
    assert answer.record.cost_usd == pytest.approx((1_000 * 0.15 + 500 * 0.60) / 1e6)


@pytest.mark.parametrize("stage", STAGE_ORDER)
async def test_a_passed_deadline_answers_504_without_running_the_stage(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent], stage: str
) -> None:
    invoker = FakeInvoker(crash=AssertionError("the stage must not run"))
    deadline = RECEIVED + 5_000
    pipeline = _pipeline(example_config, invoker, clock=lambda: deadline)
    result = await pipeline.run_stage(stage, stage_event(deadline_at_us=deadline), RecordingEmitter())

    assert isinstance(result, Answer)
    assert invoker.calls == []
    assert result.reply.error == ErrorInfo(
        status=504,
        type="timeout",
        message="The request's deadline passed.",
        code="gateway_timeout",
        error_class="GatewayTimeout",
    )
    assert result.record.status == 504
    assert result.record.total_us == 5_000


async def test_an_unexpected_exception_becomes_a_500_answer(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent], caplog: pytest.LogCaptureFixture
) -> None:
    invoker = FakeInvoker(crash=RuntimeError("bug in the invoker"))
    event = replace(stage_event(), route=(await _route(example_config, stage_event())))
    with caplog.at_level(logging.ERROR, logger="streams.pipeline"):
        result = await _pipeline(example_config, invoker).run_stage("invoke", event, RecordingEmitter())

    assert isinstance(result, Answer)
    assert result.reply.error == ErrorInfo(
        status=500, type="api_error", message="Internal error in stage invoke.", error_class="TurnoutError"
    )
    assert result.record.status == 500
    assert result.record.error_class == "TurnoutError"
    assert "bug in the invoker" in caplog.text


async def test_an_unknown_stage_is_an_internal_error_answer(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]
) -> None:
    result = await _pipeline(example_config, FakeInvoker()).run_stage("teleport", stage_event(), RecordingEmitter())
    assert isinstance(result, Answer)
    assert result.reply.error is not None and result.reply.error.status == 500


@pytest.mark.parametrize(
    ("model", "key_id", "status", "error_class"),
    [("no-such-model", "demo", 404, "ModelNotFound"), ("smart-chat", "team-b", 403, "PermissionDenied")],
)
async def test_a_stage_refusal_is_its_error_answer(
    example_config: TurnoutConfig,
    stage_event: Callable[..., StageEvent],
    model: str,
    key_id: str,
    status: int,
    error_class: str,
) -> None:
    invoker = FakeInvoker()
    answer = await _pipeline(example_config, invoker).run_from(
        "input_guard", stage_event(model=model, key_id=key_id), RecordingEmitter()
    )
    assert invoker.calls == []
    assert answer.reply.error is not None
    assert (answer.reply.error.status, answer.reply.error.error_class) == (status, error_class)
    assert answer.reply.error.param == "model"
    assert answer.record.status == status


async def test_an_invoke_error_is_answered_with_its_status(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]
) -> None:
    error = ProviderOverloaded("busy upstream", retry_after_s=2.0)
    answer = await _pipeline(example_config, FakeInvoker(error=error)).run_from(
        "input_guard", stage_event(), RecordingEmitter()
    )
    assert answer.reply.error == error.to_info()
    assert answer.reply.response is None
    assert answer.record.status == 503
    assert answer.record.error_class == "ProviderOverloaded"
    assert [(a.ok, a.http_status) for a in answer.record.attempts] == [(False, 503)]
    assert answer.record.cost_usd == 0.0


async def test_run_stage_stamps_the_stage_and_its_timing(
    example_config: TurnoutConfig, stage_event: Callable[..., StageEvent]
) -> None:
    pipeline = _pipeline(example_config, FakeInvoker(), clock=_clock(start=RECEIVED + 10, step=5))
    result = await pipeline.run_stage("cache", stage_event(), RecordingEmitter())
    assert isinstance(result, StageEvent)
    assert result.stage == "cache"
    assert result.cache is not None and result.cache.status == "skip"
    assert [(t.stage, t.started_at_us, t.ended_at_us) for t in result.timings] == [
        ("cache", RECEIVED + 10, RECEIVED + 15)
    ]


def test_entering_wraps_a_request(stage_event: Callable[..., StageEvent]) -> None:
    request = stage_event().envelope
    assert entering(request) == StageEvent(stage="ingress", envelope=request)


async def _route(config: TurnoutConfig, event: StageEvent) -> Any:
    result = await _pipeline(config, FakeInvoker()).run_stage("route", event, RecordingEmitter())
    assert isinstance(result, StageEvent)
    return result.route
