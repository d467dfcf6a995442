"""The guardrails around the pure cores: events out, the placeholder vault, one JSON retry.

``Guards.check_request`` runs the input guard core (``streams.stages.input_guard``), records what it
found as ``GuardEvent``s (types and counts, never the text), keeps the placeholders in the vault
when the route restores them, and blocks or lets the (redacted) request through.
``Guards.check_reply`` runs the output guard core; a reply that is not the JSON its request asked
for is asked for again once with the error fed back (``json_output.on_invalid: retry``), or fails.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx

from schemas.config import GuardrailsConfig, TurnoutConfig
from schemas.errors import GuardrailBlocked, InvalidOutput
from schemas.events import ChatMessage, GuardEvent, GuardVerdict, StageEvent
from streams.cache.embedders import Embedder
from streams.emitter import Emitter
from streams.guards.banned import BannedPatterns
from streams.guards.content import ContentFilter
from streams.guards.faithfulness import FaithfulnessChecker
from streams.guards.redact import restore
from streams.invoker import Invoker
from streams.moderation import ModerationClient
from streams.stages.answer import Answer, finish
from streams.stages.cost import cost_usd
from streams.stages.input_guard import GuardFinding, check_input, strongest
from streams.stages.output_guard import OutputCheck, check_output
from streams.stages.stream_guard import StreamGuard
from streams.topics import TopicNames
from streams.vault import PlaceholderVault

__all__ = ["Guards"]

log = logging.getLogger(__name__)

DEFAULT_CONTENT = ContentFilter()


def _json_feedback(error: str) -> ChatMessage:
    return ChatMessage(
        role="user",
        content=f"Your reply was not what the requested response format allows ({error}). "
        "Reply again with only the JSON, nothing before or after it.",
    )


class Guards:
    def __init__(
        self,
        config: TurnoutConfig,
        invoker: Invoker | None,
        topics: TopicNames | None,
        vault: PlaceholderVault | None,
        clock: Callable[[], int],
    ) -> None:
        self._config = config
        self._invoker = invoker
        self._topics = topics
        self._vault = vault
        self._clock = clock
        self._banned: dict[str, BannedPatterns] = {}
        self._content: dict[str, ContentFilter] = {}
        self._embedder: Embedder | None = None
        self._checkers: dict[tuple[float, float], FaithfulnessChecker] = {}
        self._embed_thread = ThreadPoolExecutor(1, thread_name_prefix="turnout-faithfulness")
        self._moderator: ModerationClient | None = None
        for name, model in config.models.items():
            banned, content = model.guardrails.banned, model.guardrails.content
            if banned.patterns or banned.keywords:
                self._banned[name] = BannedPatterns(banned.patterns, banned.keywords)
            if content.action != "off":
                self._content[name] = ContentFilter(content.categories) if content.categories else DEFAULT_CONTENT

    def _policy(self, model: str) -> GuardrailsConfig | None:
        found = self._config.models.get(model)
        return found.guardrails if found is not None else None

    async def check_request(self, event: StageEvent, emitter: Emitter) -> StageEvent | Answer:
        envelope = event.envelope
        policy = self._policy(envelope.request.model)
        if policy is None or envelope.embeddings is not None:
            return replace(event, input_guard=GuardVerdict("pass"))  # an unknown model is the route's 404
        checked = check_input(envelope.request, policy, self._banned.get(envelope.request.model))
        await self._record(event, "input", checked.findings, emitter)
        guarded = replace(event, input_guard=checked.verdict)
        if checked.blocked_by is not None:
            error = GuardrailBlocked(
                f"The input guardrail `{checked.blocked_by.guardrail}` blocked this request "
                f"({checked.blocked_by.category})."
            )
            return finish(guarded, self._clock(), error=error.to_info())
        if checked.placeholders and policy.pii.restore and self._vault is not None:
            await self._vault.keep(envelope.request_id, checked.placeholders, envelope.deadline_at_us)
        return replace(guarded, envelope=replace(envelope, request=checked.request))

    async def check_reply(self, event: StageEvent, emitter: Emitter) -> Answer:
        assert event.route is not None and event.response is not None
        envelope = event.envelope
        request = envelope.request
        policy = self._policy(request.model)
        assert policy is not None
        price = self._config.deployments
        cost = cost_usd(event.response.usage, price[event.route.deployment])
        checked = self._check(event, policy)
        if checked.json_error is not None and policy.json_output.on_invalid == "retry" and not request.stream:
            await self._record(event, "output", checked.findings, emitter)
            event, extra = await self._ask_again(event, checked.json_error, emitter)
            cost += extra
            checked = self._check(event, policy)
            if checked.json_error is not None:  # twice: it fails now
                findings = [replace(f, action="block") if f.guardrail == "json_output" else f for f in checked.findings]
                verdict = replace(checked.verdict, action=strongest(*(f.action for f in findings)))
                checked = replace(checked, findings=findings, verdict=verdict)
        moderated, moderation_us = await self._moderation(event, policy) if checked.blocked_by is None else (None, 0)
        if moderated is not None and moderated.action == "block":
            checked = replace(checked, blocked_by=moderated)
        faithful = await self._faithfulness(event, policy)
        more = [f for f in (moderated, faithful) if f is not None]
        findings = [*checked.findings, *more]
        await self._record(event, "output", findings, emitter)
        input_verdict = event.input_guard or GuardVerdict("pass")
        action = strongest(input_verdict.action, checked.verdict.action, *(f.action for f in more))
        guard_us = input_verdict.latency_us + checked.verdict.latency_us + moderation_us
        guard_us += faithful.latency_us if faithful is not None else 0
        error: Exception | None = None
        if checked.blocked_by is not None:
            error = GuardrailBlocked(
                f"The output guardrail `content` blocked the reply ({checked.blocked_by.category})."
            )
        elif faithful is not None and faithful.action == "block":
            error = GuardrailBlocked(
                f"The output guardrail `faithfulness` blocked the reply: {faithful.score:.0%} of its sentences "
                "are supported by the request's context."
            )
        elif checked.json_error is not None and not request.stream:
            error = InvalidOutput(f"The reply is not the JSON the request asked for: {checked.json_error}")
        if isinstance(error, GuardrailBlocked | InvalidOutput):
            return finish(
                event, self._clock(), error=error.to_info(), cost_usd=cost, guard_action=action, guard_us=guard_us
            )
        assert event.response is not None
        response = event.response
        restorable = policy.pii.restore and not request.stream  # a stream was restored as it passed
        if restorable and self._vault is not None and input_verdict.action == "redact":
            placeholders = await self._vault.take(envelope.request_id)
            if placeholders and response.content:
                response = replace(response, content=restore(response.content, placeholders))
        return finish(event, self._clock(), response=response, cost_usd=cost, guard_action=action, guard_us=guard_us)

    async def stream_guard(self, event: StageEvent) -> StreamGuard | None:
        """The guard a streamed reply passes chunk by chunk: a blocking content filter, and the caller's
        values put back; None when neither applies (then nothing is held back: a flagging filter
        sees the whole reply at the end, in the output guard)."""
        policy = self._policy(event.envelope.request.model)
        if policy is None:
            return None
        content = self._content.get(event.envelope.request.model)
        placeholders: dict[str, str] = {}
        redacted = event.input_guard is not None and event.input_guard.action == "redact"
        if policy.pii.restore and redacted and self._vault is not None:
            placeholders = await self._vault.take(event.envelope.request_id)
        blocking = content is not None and policy.content.action == "block"
        if not blocking and not placeholders:
            return None
        return StreamGuard(content if blocking else None, blocking, placeholders)

    async def stream_stopped(self, event: StageEvent, error: GuardrailBlocked, emitter: Emitter) -> Answer:
        """A stream the content filter stopped on its way: recorded, and answered with the error."""
        finding = GuardFinding("content", "block", error.category or "content")
        await self._record(event, "output", [finding], emitter)
        price = self._config.deployments[event.route.deployment] if event.route else None
        cost = cost_usd(event.response.usage, price) if event.response is not None and price else 0.0
        return finish(event, self._clock(), error=error.to_info(), cost_usd=cost, guard_action="block")

    async def _moderation(self, event: StageEvent, policy: GuardrailsConfig) -> tuple[GuardFinding | None, int]:
        """The route's moderation endpoint on a whole (not streamed) reply: a finding when it flags
        the reply (the content filter's action), or could not answer (``on_error``); and the µs it
        took, which count in the request's guard time whether it flagged or not."""
        setting, response = policy.content.moderation, event.response
        if setting is None or policy.content.action == "off" or response is None or not response.content:
            return None, 0
        if event.envelope.request.stream:
            return None, 0  # a stream has reached the client: the patterns of the stream guard apply
        if self._moderator is None:
            self._moderator = ModerationClient()
        started = time.perf_counter()
        try:
            verdict = await self._moderator.moderate(
                response.content, setting, self._config.providers[setting.provider]
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("moderation endpoint %s failed (%s)", setting.provider, type(exc).__name__)
            latency = int((time.perf_counter() - started) * 1e6)
            action = "block" if setting.on_error == "block" else "flag"
            return GuardFinding("content", action, "moderation:unavailable", latency_us=latency), latency
        latency = int((time.perf_counter() - started) * 1e6)
        if not verdict.flagged:
            return None, latency
        category = f"moderation:{verdict.category}"
        finding = GuardFinding("content", policy.content.action, category, score=verdict.score, latency_us=latency)
        return finding, latency

    async def _faithfulness(self, event: StageEvent, policy: GuardrailsConfig) -> GuardFinding | None:
        """The answer against the request's retrieved chunks, when it has some: a finding with the
        score (``pass`` when supported), on a thread (sentences without shared words are embedded)."""
        request, response = event.envelope.request, event.response
        setting = policy.faithfulness
        if setting.action == "off" or not request.context or response is None or not response.content:
            return None
        checker = self._faithfulness_checker(setting.lexical_threshold, setting.semantic_threshold)
        result = await asyncio.get_running_loop().run_in_executor(
            self._embed_thread, checker.check, response.content, list(request.context)
        )
        supported = result.score >= setting.min_score
        return GuardFinding(
            "faithfulness",
            "pass" if supported else setting.action,
            "supported" if supported else "unsupported",
            count=len(result.unsupported),
            score=result.score,
            latency_us=result.latency_us,
        )

    def _faithfulness_checker(self, lexical: float, semantic: float) -> FaithfulnessChecker:
        key = (lexical, semantic)
        checker = self._checkers.get(key)
        if checker is None:
            if self._embedder is None:
                from streams.cache.embedders import MiniLMEmbedder

                self._embedder = MiniLMEmbedder()  # loaded once, on the first RAG reply (0.1 s)
            checker = self._checkers[key] = FaithfulnessChecker(self._embedder, lexical, semantic)
        return checker

    def _check(self, event: StageEvent, policy: GuardrailsConfig) -> OutputCheck:
        assert event.response is not None
        request = event.envelope.request
        content = self._content.get(request.model)
        return check_output(event.response, policy, content, request.response_format_json, request.stream)

    async def _ask_again(self, event: StageEvent, error: str, emitter: Emitter) -> tuple[StageEvent, float]:
        """The same route, the bad reply and the error appended: the second reply and its cost."""
        assert self._invoker is not None and event.response is not None and event.route is not None
        request = event.envelope.request
        bad = ChatMessage(role="assistant", content=event.response.content)
        follow_up = replace(request, messages=[*request.messages, bad, _json_feedback(error)])
        again = replace(event, envelope=replace(event.envelope, request=follow_up), response=None)
        outcome = await self._invoker.invoke(again, emitter)
        if outcome.error is not None or outcome.event.response is None:
            return replace(event, attempts=outcome.event.attempts), 0.0
        deployment = self._config.deployments[outcome.event.route.deployment if outcome.event.route else ""]
        answered = replace(outcome.event, envelope=event.envelope)  # the row keeps the client's request
        return answered, cost_usd(answered.response.usage, deployment)  # type: ignore[union-attr]

    async def _record(self, event: StageEvent, stage: str, findings: list[GuardFinding], emitter: Emitter) -> None:
        if not findings or self._topics is None:
            return
        envelope = event.envelope
        acks: list[Awaitable[Any]] = []
        for f in findings:
            guard_event = GuardEvent(
                request_id=envelope.request_id,
                tenant=envelope.caller.tenant,
                logical_model=envelope.request.model,
                stage=stage,
                guardrail=f.guardrail,
                action=f.action,
                category=f.category,
                at_us=self._clock(),
                count=f.count,
                score=f.score,
                latency_us=f.latency_us,
            )
            acks.append(await emitter.send(self._topics.guard_events, envelope.request_id, guard_event))
        for ack in acks:
            await ack
