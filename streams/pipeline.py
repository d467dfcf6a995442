"""Runs the stage cores on events. The agents (``streams.agents``) only move events between topics
and call ``Pipeline.run_stage``; the fused layout calls ``Pipeline.run_from`` to run them all.

A stage returns the event for the next stage, or an ``Answer`` that ends the request early (an
error, a block, a cache hit). A failing stage never raises: its error becomes the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from schemas.config import TurnoutConfig
from schemas.errors import (
    BudgetExceeded,
    GatewayTimeout,
    GuardrailBlocked,
    KillSwitchActive,
    RateLimited,
    ServiceUnavailable,
    TurnoutError,
)
from schemas.events import BudgetVerdict, CacheVerdict, LimitVerdict, RequestEvent, StageEvent, StageTiming
from streams.budgets import BudgetAdmission, BudgetBook
from streams.caching import ResponseCache
from streams.controls import ControlBoard
from streams.emitter import Emitter
from streams.guarding import Guards
from streams.invoker import Invoker, now_us
from streams.limiter import Limiter
from streams.metrics import Metrics, record_answer
from streams.routing.classifier import ComplexityModel
from streams.stages.answer import Answer, finish
from streams.stages.budgets import NANO_PER_USD
from streams.stages.cost import cost_usd
from streams.stages.route import decide_route
from streams.topics import STAGE_ORDER, TopicNames
from streams.vault import PlaceholderVault

__all__ = ["Parked", "Pipeline", "StageResult", "entering"]


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Parked:
    """Over a rate limit on a route that queues: wait on the parked topic for capacity."""

    event: StageEvent


StageResult = StageEvent | Answer | Parked


def entering(request: RequestEvent) -> StageEvent:
    """A request event as the first stage takes it."""
    return StageEvent(stage="ingress", envelope=request)


class Pipeline:
    def __init__(
        self,
        config: TurnoutConfig,
        invoker: Invoker,
        clock: Callable[[], int] = now_us,
        limiter: Limiter | None = None,
        budgets: BudgetBook | None = None,
        controls: ControlBoard | None = None,
        metrics: Metrics | None = None,
        complexity: ComplexityModel | None = None,
        topics: TopicNames | None = None,
        vault: PlaceholderVault | None = None,
        cache: ResponseCache | None = None,
    ) -> None:
        self._metrics = metrics or Metrics()
        self._cache = cache
        self._complexity = complexity
        self._guards = Guards(config, invoker, topics, vault, clock)
        self._config = config
        self._invoker = invoker
        self._clock = clock
        self._limiter = limiter
        self._budgets = budgets
        self._controls = controls

    @property
    def guards(self) -> Guards:
        return self._guards

    async def run_stage(self, stage: str, event: StageEvent, emitter: Emitter) -> StageResult:
        started = self._clock()
        try:
            if started >= event.envelope.deadline_at_us:
                raise GatewayTimeout("The request's deadline passed.")
            result = await self._step(stage, event, emitter)
        except TurnoutError as exc:
            result = finish(event, self._clock(), error=exc.to_info())
        except Exception:  # a bug in a stage must not kill the agent
            log.exception("stage %s failed on request %s", stage, event.envelope.request_id)
            result = finish(event, self._clock(), error=TurnoutError(f"Internal error in stage {stage}.").to_info())
        if isinstance(result, Answer):
            await self._release_unspent(event, result)
            record_answer(self._metrics, result.record)
            return result
        if isinstance(result, Parked):
            return result
        timing = StageTiming(stage=stage, started_at_us=started, ended_at_us=self._clock())
        return replace(result, stage=stage, timings=[*result.timings, timing])

    async def run_from(self, stage: str, event: StageEvent, emitter: Emitter) -> Answer | Parked:
        """Run ``stage`` and every stage after it in this process (the fused layout)."""
        result: StageResult = event
        for name in STAGE_ORDER[STAGE_ORDER.index(stage) :]:
            assert isinstance(result, StageEvent)
            result = await self.run_stage(name, result, emitter)
            if isinstance(result, Answer | Parked):
                return result
        raise AssertionError("the output guard always answers")

    async def _step(self, stage: str, event: StageEvent, emitter: Emitter) -> StageResult:
        if stage == "input_guard":
            guarded = await self._guards.check_request(event, emitter)
            if isinstance(guarded, Answer):
                return guarded
            return await self._admit(guarded)
        if stage == "cache":
            if self._cache is None:
                return replace(event, cache=CacheVerdict("skip", reason="off"))
            return await self._cache.check(event)
        if stage == "route":
            return replace(event, route=decide_route(self._config, event, self._complexity))
        if stage == "invoke":
            outcome = await self._invoker.invoke(event, emitter)
            if isinstance(outcome.error, GuardrailBlocked):
                return await self._guards.stream_stopped(outcome.event, outcome.error, emitter)
            if outcome.error is not None:
                return finish(outcome.event, self._clock(), error=outcome.error.to_info())
            await self._settle(outcome.event)
            return outcome.event
        if stage == "output_guard":
            assert event.route is not None
            deployment = self._config.deployments[event.route.deployment]
            if event.embeddings is not None:
                cost = cost_usd(event.embeddings.usage, deployment)
                return finish(event, self._clock(), embeddings=event.embeddings, cost_usd=cost)
            answer = await self._guards.check_reply(event, emitter)
            if self._cache is not None:
                await self._cache.offer(event, answer, emitter)
            return answer
        raise ValueError(f"unknown stage {stage!r}")

    async def _admit(self, event: StageEvent, waited: bool = False) -> StageEvent | Parked:
        """Kill switches, then the rate limits, then the budgets: admitted (perhaps downgraded),
        parked, or an error to raise."""
        if self._controls is not None:
            await self._controls.wait_loaded()
        kill = self._controls.kill_for(event.envelope.caller) if self._controls is not None else None
        if kill is not None:
            self._metrics.inc("turnout_admission_refused_total", reason="kill_switch")
            why = f": {kill.reason}" if kill.reason else "."
            raise KillSwitchActive(f"An operator has stopped requests for the {kill.scope} `{kill.value}`{why}")
        admitted = await self._admit_limits(event, waited)
        if isinstance(admitted, Parked):
            return admitted
        return await self._admit_budgets(admitted)

    async def _admit_limits(self, event: StageEvent, waited: bool) -> StageEvent | Parked:
        """The rate limits' verdict: admitted, downgraded, parked, or an error to raise."""
        request = event.envelope.request
        model = self._config.models.get(request.model)
        if self._limiter is None or model is None:
            return event
        envelope = event.envelope
        admission = await self._limiter.admit(envelope.caller, request, envelope.request_id, parked=waited)
        if admission.admitted:
            action = "queue" if waited else "admit"
            return replace(
                event, limit=LimitVerdict(action, None, admission.estimated_tokens, list(admission.token_keys))
            )
        policy = model.on_limit
        if admission.redis_down:
            if policy.redis_down == "closed":
                raise ServiceUnavailable("Rate limits cannot be checked right now; try again shortly.")
            return replace(event, limit=LimitVerdict("fail_open", None, admission.estimated_tokens))
        over = admission.limited_by
        assert over is not None
        if policy.action == "downgrade" and policy.downgrade_to and not waited:
            cheaper = replace(request, model=policy.downgrade_to)
            again = await self._limiter.admit(envelope.caller, cheaper, envelope.request_id)
            if again.admitted:
                envelope = replace(event.envelope, request=cheaper)
                return replace(
                    event,
                    envelope=envelope,
                    limit=LimitVerdict(
                        "downgrade", over.rule, again.estimated_tokens, list(again.token_keys), request.model
                    ),
                )
        if policy.action == "queue":
            return Parked(event)
        self._metrics.inc("turnout_admission_refused_total", reason="rate_limit")
        raise RateLimited(
            f"Rate limit `{over.rule}` reached: {over.limit} {over.kind} per {over.window_s} s.",
            retry_after_s=max(1.0, admission.retry_after_s(self._clock() / 1e6)),
            limit_kind=over.kind,
            limit=over.limit,
        )

    async def _admit_budgets(self, event: StageEvent) -> StageEvent:
        """Reserve the request's estimated cost in its budgets; past a budget's downgrade mark, on
        the logical model's cheaper model. Over a budget: 429 ``budget_exceeded``."""
        book, envelope = self._budgets, event.envelope
        request = envelope.request
        model = self._config.models.get(request.model)
        if book is None or not book.active or model is None:
            return event
        caller, deadline = envelope.caller, envelope.deadline_at_us
        admission = await book.reserve(caller, request, envelope.request_id, deadline)
        if admission.downgrade is not None:
            cheaper = model.on_limit.downgrade_to
            target = replace(request, model=cheaper) if cheaper and cheaper != request.model else request
            again = await book.reserve(caller, target, envelope.request_id, deadline, allow_downgrade=False)
            if again.reserved and target is not request:
                verdict = _reserved("downgrade", again, admission.downgrade.rule.name, request.model)
                self._metrics.inc("turnout_budget_downgrades_total", budget=admission.downgrade.rule.name)
                return replace(event, envelope=replace(envelope, request=target), budget=verdict)
            admission = again
        if admission.reserved:
            return replace(event, budget=_reserved("admit", admission))
        if admission.redis_down:
            if model.on_limit.redis_down == "closed":
                raise ServiceUnavailable("Budgets cannot be checked right now; try again shortly.")
            return replace(event, budget=BudgetVerdict("fail_open"))
        over = admission.over
        assert over is not None
        self._metrics.inc("turnout_admission_refused_total", reason="budget")
        used = (admission.spent_nano + admission.held_nano) / NANO_PER_USD
        resets_s = max(1.0, over.period.end_s - self._clock() / 1e6)
        raise BudgetExceeded(
            f"Budget {over.describe()} is used up: ${used:.6f} spent or reserved, and this request may "
            f"cost up to ${admission.estimate_nano / NANO_PER_USD:.6f}. It resets in {resets_s:.0f} s.",
            retry_after_s=resets_s,
        )

    async def _release_unspent(self, event: StageEvent, answer: Answer) -> None:
        """A request answered without a provider call that cost something (an error, a cache hit, a
        block) gives back its budget reservation and the tokens its rate limits counted in advance;
        the others are settled by the ledger and by ``_settle``."""
        if any(a.ok for a in answer.record.attempts):
            return
        limit = event.limit
        if self._limiter is not None and limit is not None and limit.token_keys:
            await self._limiter.settle(limit.token_keys, limit.estimated_tokens, 0)
        verdict = event.budget
        if self._budgets is not None and verdict is not None and verdict.slots:
            await self._budgets.release(verdict.slots, event.envelope.request_id)

    async def admit_parked(self, event: StageEvent) -> StageEvent | Parked:
        """A parked request tries again; still over the limit it stays parked."""
        return await self._admit(event, waited=True)

    async def _settle(self, event: StageEvent) -> None:
        limit, response = event.limit, event.response or event.embeddings
        if self._limiter is None or limit is None or not limit.token_keys or response is None:
            return
        usage = response.usage
        await self._limiter.settle(
            limit.token_keys,
            limit.estimated_tokens,
            usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        )


def _reserved(
    action: str, admission: BudgetAdmission, budget: str | None = None, downgraded_from: str | None = None
) -> BudgetVerdict:
    slots = [s.key for s in admission.slots]
    return BudgetVerdict(action, budget, admission.estimate_nano if slots else 0, slots, downgraded_from)
