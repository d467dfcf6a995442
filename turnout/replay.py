"""``turnout replay``: recorded traffic through a candidate policy, before it goes live.

    turnout replay --config LIVE.yaml --policy CANDIDATE.yaml --since 2026-12-01T00:00 [--until ...] [--live]

1. Reads the window's request events from ``<prefix>.requests`` (by the messages' timestamps), or,
   once the topic's retention has dropped the window's start, rebuilds them from ClickHouse's rows
   (no text there: complexity routing, guardrails, the cache and ``--live`` need the topic).
2. Reads what happened to each from ClickHouse (``requests``: deployment, tokens, cost).
3. Routes each through the candidate config's route core (``streams.stages.route``: its logical
   models, deployments and routing policies), and prices the recorded usage at the candidate
   deployment's prices: no provider is called, no reply topic is written, no budget is charged.
4. Plays each request through the candidate's input guardrails and cache settings
   (``turnout.whatif``): a request it blocks, or one its cache would have answered, costs nothing.
5. Writes every decision to the shadow topic ``<prefix>.events.replay`` (ClickHouse
   ``replay_decisions``, next to the originals) and prints a report: requests replayed, decisions
   changed, cost before and after (routing alone, and with guardrails and cache), model mix,
   guardrail actions before and after, the candidate cache's hits, and latency and error rates where
   ClickHouse has them (the window's requests, each deployment's attempts, and what each model mix
   would see); ``--out`` writes it as JSON.

Deterministic: the run id is a digest of the window and the policy file, and the same window and
policy give the same report (and the same rows, which the sink deduplicates).

``--live`` (live shadow) then sends the requests whose decision changed to their candidate deployment
(``turnout.shadow``: paced by ``--rate``, through the candidate's input guardrails, never replied to
anyone, no usage to the budgets), and writes each pair of answers with their similarity to
``<prefix>.events.shadow`` (ClickHouse ``shadow_answers``); the report adds calls, errors, similarity,
latency and what the shadow calls cost.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.codec import EventCodec, UndecodableEvent
from schemas.config import TurnoutConfig
from schemas.errors import TurnoutError
from schemas.events import Caller, ChatRequest, ReplayDecision, RequestEvent, StageEvent, Usage
from streams.log_limits import rdkafka_logging
from streams.routing.classifier import ComplexityModel
from streams.stages.cost import cost_usd
from streams.stages.route import decide_route
from streams.topics import TopicNames
from turnout.analytics import run_sql
from turnout.whatif import CacheWhatIf, guard_check, guardrails_what_if

__all__ = ["Outcome", "Recorded", "ReplayReport", "decide", "deployment_stats", "read_window", "replay"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a recorded request, from its ClickHouse row."""

    deployment: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float


@dataclass
class ReplayReport:
    run_id: str
    window: dict[str, int]
    source: str = "topic"  # where the requests were read: the request topic, or ClickHouse's rows
    replayed: int = 0
    without_outcome: int = 0
    changed: int = 0
    cost_before_usd: float = 0.0
    cost_after_usd: float = 0.0
    model_mix_before: dict[str, int] = field(default_factory=dict)
    model_mix_after: dict[str, int] = field(default_factory=dict)
    changed_decisions: list[dict[str, Any]] = field(default_factory=list)
    cost_after_routing_usd: float = 0.0  # the candidate's routes alone, before its cache and guardrails
    blocked_after: int = 0  # requests the candidate's input guardrails would refuse (they cost nothing)
    guardrails: dict[str, Any] = field(default_factory=dict)  # actions before and after, what changed
    cache: dict[str, Any] | None = None  # the candidate's cache over the window, when it has one
    recorded: dict[str, Any] = field(default_factory=dict)  # the window's requests: errors, latency
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # attempts per deployment
    expected: dict[str, Any] = field(default_factory=dict)  # error rate and latency for each model mix
    shadow: dict[str, Any] | None = None  # live shadow: calls, answers, errors, similarity, latency, cost

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cost_before_usd"] = round(self.cost_before_usd, 9)
        data["cost_after_usd"] = round(self.cost_after_usd, 9)
        data["cost_after_routing_usd"] = round(self.cost_after_routing_usd, 9)
        data["saving"] = round(1 - self.cost_after_usd / self.cost_before_usd, 4) if self.cost_before_usd else 0.0
        return data


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "turnout-replay", "enable.auto.commit": False, **rdkafka_logging()}
    )


def read_window(
    bootstrap: str, topic: str, since_ms: int, until_ms: int, codec: EventCodec, timeout_s: float = 60.0
) -> list[RequestEvent]:
    """The request events whose Kafka timestamps fall in ``[since_ms, until_ms)``, in a stable order.

    Each partition is read from the first offset at ``since_ms`` to the end it had when the replay
    started (what arrives later is not part of the window)."""
    consumer = _consumer(bootstrap)
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in partitions], timeout=10)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        ranges = {tp.partition: (tp.offset, ends[tp.partition]) for tp in starts if tp.offset >= 0}
        return _read_ranges(consumer, topic, ranges, codec, until_ms, timeout_s)
    finally:
        consumer.close()


def parse_offsets(text: str) -> dict[int, tuple[int, int]]:
    """``0:100-200,1:90-180`` -> partition -> [start, end) offsets."""
    ranges: dict[int, tuple[int, int]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            partition, span = part.split(":")
            start, end = span.split("-")
            ranges[int(partition)] = (int(start), int(end))
        except ValueError:
            raise ValueError(f"offsets: PARTITION:START-END[,...], not {part!r}") from None
        if not 0 <= ranges[int(partition)][0] <= ranges[int(partition)][1]:
            raise ValueError(f"offsets: {part!r} must have 0 <= START <= END")
    if not ranges:
        raise ValueError("offsets: at least one PARTITION:START-END")
    return ranges


def read_offsets(
    bootstrap: str, topic: str, ranges: dict[int, tuple[int, int]], codec: EventCodec, timeout_s: float = 60.0
) -> list[RequestEvent]:
    """The request events at offsets ``[start, end)`` of each partition named, in a stable order."""
    consumer = _consumer(bootstrap)
    try:
        readable: dict[int, tuple[int, int]] = {}
        for partition, (start, end) in ranges.items():
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if start < low:
                raise TurnoutError(f"{topic}[{partition}] starts at offset {low} now (retention): {start} is gone.")
            readable[partition] = (start, min(end, high))
        return _read_ranges(consumer, topic, readable, codec, None, timeout_s)
    finally:
        consumer.close()


def _read_ranges(
    consumer: Consumer,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    codec: EventCodec,
    until_ms: int | None,
    timeout_s: float,
) -> list[RequestEvent]:
    """The request events at offsets ``[start, end)`` per partition, and (with ``until_ms``) before
    that time: a partition is done at its end offset or at its first message from ``until_ms`` on."""
    todo = {p: end for p, (start, end) in ranges.items() if end > start}
    consumer.assign([TopicPartition(topic, p, ranges[p][0]) for p in todo])
    events: list[RequestEvent] = []
    deadline = time.monotonic() + timeout_s
    while todo and time.monotonic() < deadline:
        for message in consumer.consume(500, timeout=1.0):
            at, offset = message.partition(), message.offset()
            if message.error() is not None or at is None or at not in todo or offset is None or offset >= todo[at]:
                continue
            late = until_ms is not None and message.timestamp()[1] >= until_ms
            if offset == todo[at] - 1 or late:
                del todo[at]
            if late:
                continue
            try:
                event = codec.decode(message.value() or b"")
            except UndecodableEvent:
                continue  # the stages dead-lettered it when it was live
            if isinstance(event, RequestEvent):
                events.append(event)
    if todo:
        raise TurnoutError(f"Could not read {topic} (partitions {sorted(todo)}) in {timeout_s:.0f} s.")
    return sorted(events, key=lambda e: (e.received_at_us, e.request_id))


def window_on_topic(bootstrap: str, topic: str, since_ms: int) -> bool:
    """Whether the topic still holds its messages from ``since_ms`` on: no partition has dropped one
    (retention) that was written after it."""
    consumer = _consumer(bootstrap)
    try:
        partitions = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if low == 0 or low >= high:
                continue  # nothing dropped, or nothing left: what there was is not in the window either way
            consumer.assign([TopicPartition(topic, p, low)])
            message = consumer.poll(10)
            if message is None or message.error() is not None:
                raise TurnoutError(f"Could not read the oldest message of {topic}[{p}].")
            if message.timestamp()[1] > since_ms:
                return False
        return True
    finally:
        consumer.close()


def read_window_from_clickhouse(config: TurnoutConfig, since_ms: int, until_ms: int) -> list[RequestEvent]:
    """The window's requests rebuilt from ClickHouse ``requests``: who asked for which model, when, and
    whether it streamed. ClickHouse keeps no request text, so this serves policies that route by tier,
    weight or deployment (and price changes), not complexity, guardrails or the cache."""
    db = config.clickhouse.database
    rows = run_sql(
        config,
        "SELECT request_id, tenant, team, user, tier, key_id, feature, toUnixTimestamp64Micro(received_at), "
        "if(downgraded_from != '', downgraded_from, logical_model), stream, source "
        f"FROM {db}.requests FINAL WHERE received_at >= fromUnixTimestamp64Milli(toInt64({since_ms})) "
        f"AND received_at < fromUnixTimestamp64Milli(toInt64({until_ms})) ORDER BY received_at, request_id",
    ).rows
    events = []
    for request_id, tenant, team, user, tier, key_id, feature, received_us, model, stream, source in rows:
        caller = Caller(tenant=tenant, team=team, user=user, tier=tier, key_id=key_id, feature=feature or None)
        request = ChatRequest(model=model, messages=[], stream=bool(stream))
        events.append(RequestEvent(request_id, "", str(source), int(received_us), int(received_us), caller, request))
    return events


def _needs_text(candidate: TurnoutConfig, requested: set[str], shadow: bool) -> str | None:
    """What in the candidate (or the run) cannot be replayed without the request text."""
    if shadow:
        return "live shadow"
    for name in sorted(requested):
        model = candidate.models.get(name)
        if model is not None and model.routing is not None and model.routing.simple:
            return f"routing by complexity (models.{name}.routing.simple)"
    return None


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded request's row: its status and latency, and for an answer, its usage and cost."""

    status: int
    total_us: int
    outcome: Outcome | None


def recorded_rows(config: TurnoutConfig, request_ids: Iterable[str], chunk: int = 500) -> dict[str, Recorded]:
    ids = list(request_ids)
    found: dict[str, Recorded] = {}
    db = config.clickhouse.database
    for start in range(0, len(ids), chunk):
        listed = ",".join(f"'{i}'" for i in ids[start : start + chunk])
        rows = run_sql(
            config,
            "SELECT request_id, status, total_us, deployment, prompt_tokens, completion_tokens, cached_tokens, "
            f"cost_usd FROM {db}.requests FINAL WHERE request_id IN ({listed})",
        ).rows
        for request_id, status, total_us, deployment, prompt, completion, cached, cost in rows:
            outcome = Outcome(deployment, int(prompt), int(completion), int(cached), float(cost))
            found[request_id] = Recorded(int(status), int(total_us), outcome if int(status) == 200 else None)
    return found


LOOKBACK_S = 7 * 86_400  # where the window has no attempts of a deployment, its week before is looked at


def deployment_stats(config: TurnoutConfig, since_ms: int, until_ms: int) -> dict[str, dict[str, Any]]:
    """Attempts per deployment in the window, and for the deployments absent from it, in the week
    before: count, error rate, latency p50 and p99 (ms)."""
    db = config.clickhouse.database

    def query(start_ms: int, end_ms: int) -> dict[str, dict[str, Any]]:
        rows = run_sql(
            config,
            "SELECT deployment, count(), countIf(NOT ok), quantileExact(0.5)(latency_us), "
            f"quantileExact(0.99)(latency_us) FROM {db}.attempts FINAL "
            f"WHERE started_at >= fromUnixTimestamp64Milli(toInt64({start_ms})) "
            f"AND started_at < fromUnixTimestamp64Milli(toInt64({end_ms})) AND error_class != 'CircuitOpen' "
            "GROUP BY deployment ORDER BY deployment",
        ).rows
        return {
            str(name): {
                "attempts": int(n),
                "error_rate": round(int(errors) / int(n), 4),
                "latency_p50_ms": round(float(p50) / 1000, 1),
                "latency_p99_ms": round(float(p99) / 1000, 1),
            }
            for name, n, errors, p50, p99 in rows
        }

    stats = {name: {**row, "source": "window"} for name, row in query(since_ms, until_ms).items()}
    for name, row in query(until_ms - LOOKBACK_S * 1000, until_ms).items():
        stats.setdefault(name, {**row, "source": "week before"})
    return dict(sorted(stats.items()))


def _expected(mix: Counter[str], stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The attempt error rate and latency p50 a model mix would see, weighted by its counts, from the
    recorded figures of each deployment (the deployments without any are counted as unknown)."""
    known = {name: n for name, n in mix.items() if name in stats}
    total = sum(known.values())
    if not total:
        return {"error_rate": None, "latency_p50_ms": None, "unknown": sum(mix.values())}
    return {
        "error_rate": round(sum(n * stats[d]["error_rate"] for d, n in known.items()) / total, 4),
        "latency_p50_ms": round(sum(n * stats[d]["latency_p50_ms"] for d, n in known.items()) / total, 1),
        "unknown": sum(mix.values()) - total,
    }


def decide(
    candidate: TurnoutConfig, event: RequestEvent, outcome: Outcome, run_id: str, complexity: ComplexityModel | None
) -> ReplayDecision:
    """The candidate's route for ``event``, and the recorded usage priced at its deployment."""
    try:
        route = decide_route(candidate, StageEvent(stage="cache", envelope=event), complexity)
        model, deployment, reason, score = route.logical_model, route.deployment, route.reason, route.score
        usage = Usage(outcome.prompt_tokens, outcome.completion_tokens, outcome.cached_tokens)
        after = cost_usd(usage, candidate.deployments[deployment])
    except TurnoutError as exc:  # the candidate would refuse it (an unknown model, a key not allowed)
        model, deployment, reason, score, after = "", "", f"error:{type(exc).__name__}", None, 0.0
    return ReplayDecision(
        run_id=run_id,
        request_id=event.request_id,
        tenant=event.caller.tenant,
        received_at_us=event.received_at_us,
        requested_model=event.request.model,
        original_deployment=outcome.deployment,
        candidate_model=model,
        candidate_deployment=deployment,
        reason=reason,
        changed=deployment != outcome.deployment,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        cost_before_usd=outcome.cost_usd,
        cost_after_usd=after,
        score=score,
    )


def run_id_of(policy_text: str, since_ms: int, until_ms: int) -> str:
    digest = hashlib.sha256(f"{since_ms}:{until_ms}:".encode() + policy_text.encode()).hexdigest()
    return f"replay-{digest[:16]}"


def replay(
    live: TurnoutConfig,
    candidate: TurnoutConfig,
    policy_text: str,
    since_ms: int,
    until_ms: int,
    progress: bool = True,
    shadow: bool = False,
    rate_per_s: float = 5.0,
    source: str = "auto",
    offsets: dict[int, tuple[int, int]] | None = None,
) -> ReplayReport:
    """Dry: decisions and prices only. ``shadow`` (``--live``): also the changed requests sent to their candidate
    deployment (``turnout.shadow``), at most ``rate_per_s`` a second, their answers kept. ``source``: ``topic``,
    ``clickhouse`` (the rows alone, no request text), or ``auto`` (the topic while it still holds the window)."""
    codec = EventCodec()
    topics = TopicNames(live.kafka.topic_prefix)
    if offsets is not None:  # a window by offsets: its times are its events' own
        events = read_offsets(live.kafka.bootstrap, topics.requests, offsets, codec)
        spans = ",".join(f"{p}:{a}-{b}" for p, (a, b) in sorted(offsets.items()))
        since_ms = min((e.received_at_us // 1000 for e in events), default=0)
        until_ms = max((e.received_at_us // 1000 + 1 for e in events), default=0)
        run_id, source = run_id_of(f"offsets {spans}\n{policy_text}", 0, 0), "topic"
    else:
        run_id = run_id_of(policy_text, since_ms, until_ms)
        if source == "auto":
            on_topic = window_on_topic(live.kafka.bootstrap, topics.requests, since_ms)
            source = "topic" if on_topic else "clickhouse"
        if source == "topic":
            events = read_window(live.kafka.bootstrap, topics.requests, since_ms, until_ms, codec)
        elif source == "clickhouse":
            events = read_window_from_clickhouse(live, since_ms, until_ms)
            needs_text = _needs_text(candidate, {e.request.model for e in events}, shadow)
            if needs_text:
                raise TurnoutError(
                    f"{needs_text} needs the request text, which ClickHouse does not keep: replay a window "
                    "that is still on the request topic"
                )
        else:
            raise ValueError(f"source: topic, clickhouse or auto, not {source!r}")
    report = ReplayReport(run_id, {"since_ms": since_ms, "until_ms": until_ms}, source=source)
    text = source == "topic"
    rows = recorded_rows(live, (e.request_id for e in events))
    report.recorded = _recorded_summary(rows)
    report.deployments = deployment_stats(live, since_ms, until_ms)
    checked = {e.request_id: guard_check(candidate, e) for e in events} if text else {}
    report.guardrails = guardrails_what_if(live, candidate, events, checked) if text else {"skipped": "no request text"}
    routed = any(m.routing and m.routing.simple for m in candidate.models.values())
    complexity = ComplexityModel.load() if routed else None
    cache = CacheWhatIf(candidate)
    producer = Producer({"bootstrap.servers": live.kafka.bootstrap, "enable.idempotence": True, **rdkafka_logging()})
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    changed_jobs: list[tuple[RequestEvent, ReplayDecision]] = []
    for n, event in enumerate(events, 1):
        row = rows.get(event.request_id)
        outcome = row.outcome if row is not None else None
        if outcome is None:  # answered with an error, or its row is not in ClickHouse (yet)
            report.without_outcome += 1
            continue
        decision = decide(candidate, event, outcome, run_id, complexity)
        producer.produce(topics.replay, codec.encode(decision), f"{run_id}:{event.request_id}".encode())
        producer.poll(0)
        report.replayed += 1
        report.cost_before_usd += decision.cost_before_usd
        report.cost_after_routing_usd += decision.cost_after_usd
        action, verdict = checked.get(event.request_id, ("pass", None))
        if action.startswith("block"):
            report.blocked_after += 1  # refused before any provider call: nothing to pay
        elif not (text and cache.active and cache.offer(event, verdict, decision.cost_after_usd)):
            report.cost_after_usd += decision.cost_after_usd
        before[outcome.deployment] += 1
        after[decision.candidate_deployment or decision.reason] += 1
        if decision.changed:
            report.changed += 1
            if decision.candidate_deployment:
                changed_jobs.append((event, decision))
            report.changed_decisions.append(
                {
                    "request_id": decision.request_id,
                    "from": decision.original_deployment,
                    "to": decision.candidate_deployment or decision.reason,
                    "reason": decision.reason,
                    "score": decision.score,
                    "cost_before_usd": decision.cost_before_usd,
                    "cost_after_usd": round(decision.cost_after_usd, 9),
                }
            )
        if progress and (n % 50 == 0 or n == len(events)):
            sys.stderr.write(f"\rreplayed {n}/{len(events)}")
    if progress and events:
        sys.stderr.write("\n")
    if shadow:
        report.shadow = _live_shadow(live, candidate, changed_jobs, rate_per_s, producer, codec, topics, progress)
    if producer.flush(30) > 0:
        raise TurnoutError("Kafka did not take every replay decision.")
    report.model_mix_before = dict(sorted(before.items()))
    report.model_mix_after = dict(sorted(after.items()))
    report.expected = {"before": _expected(before, report.deployments), "after": _expected(after, report.deployments)}
    if text and cache.active:
        report.cache = cache.summary()
        cache.close()
    return report


def _recorded_summary(rows: dict[str, Recorded]) -> dict[str, Any]:
    """The window's requests as they were answered: how many, the error rate, latency p50 and p99."""
    latencies = sorted(r.total_us / 1000 for r in rows.values())
    errors = sum(r.status >= 400 for r in rows.values())

    def quantile(q: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    return {
        "requests": len(rows),
        "errors": errors,
        "error_rate": round(errors / len(rows), 4) if rows else 0.0,
        "latency_p50_ms": quantile(0.5),
        "latency_p99_ms": quantile(0.99),
    }


def _live_shadow(
    live: TurnoutConfig,
    candidate: TurnoutConfig,
    jobs: list[tuple[RequestEvent, ReplayDecision]],
    rate_per_s: float,
    producer: Producer,
    codec: EventCodec,
    topics: TopicNames,
    progress: bool,
) -> dict[str, Any]:
    """The changed requests through their candidate deployments; every answer to the shadow topic."""
    import asyncio

    from streams.cache.embedders import MiniLMEmbedder
    from turnout.shadow import original_answers, run_shadow

    if progress:
        sys.stderr.write(f"live shadow: {len(jobs)} changed requests at {rate_per_s:g}/s\n")
    originals = original_answers(live.kafka.bootstrap, [e for e, _ in jobs], codec)
    answers = asyncio.run(run_shadow(candidate, jobs, originals, MiniLMEmbedder(), rate_per_s))
    for answer in answers:
        producer.produce(topics.shadow, codec.encode(answer), f"{answer.run_id}:{answer.request_id}".encode())
        producer.poll(0)
    ok = [a for a in answers if a.status == 200]
    similarities = [a.similarity for a in ok if a.similarity is not None]
    latencies = sorted(a.latency_us / 1000 for a in ok)
    return {
        "sent": len(answers),
        "answered": len(ok),
        "errors": len(answers) - len(ok),
        "with_original": sum(a.original_answer is not None for a in answers),
        "mean_similarity": round(sum(similarities) / len(similarities), 4) if similarities else None,
        "min_similarity": min(similarities) if similarities else None,
        "latency_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "cost_usd": round(sum(a.cost_usd for a in answers), 9),
    }


def render(report: ReplayReport) -> str:
    """The report as a terminal table."""
    data = report.to_dict()
    lines = [
        f"replay {report.run_id}  (from the {'request topic' if report.source == 'topic' else 'ClickHouse rows'})",
        f"  requests replayed   {report.replayed}  (without a recorded outcome: {report.without_outcome})",
        f"  decisions changed   {report.changed}",
        f"  cost before         ${report.cost_before_usd:.6f}",
        f"  cost after          ${report.cost_after_usd:.6f}  (saving {data['saving']:.1%}; routing alone "
        f"${report.cost_after_routing_usd:.6f}; {report.blocked_after} blocked by the candidate's guardrails)",
        "  model mix           before -> after",
    ]
    for name in sorted(set(report.model_mix_before) | set(report.model_mix_after)):
        lines.append(
            f"    {name:<24} {report.model_mix_before.get(name, 0):>6} -> {report.model_mix_after.get(name, 0):>6}"
        )
    rec = report.recorded
    if rec:
        lines.append(
            f"  recorded            {rec['requests']} rows, error rate {rec['error_rate']:.2%}, "
            f"latency p50 {rec['latency_p50_ms']} ms, p99 {rec['latency_p99_ms']} ms"
        )
    for when in ("before", "after"):
        exp = report.expected.get(when)
        if exp and exp["error_rate"] is not None:
            lines.append(
                f"  expected {when:<6}     attempt error rate {exp['error_rate']:.2%}, latency p50 "
                f"{exp['latency_p50_ms']} ms (from each deployment's recorded attempts; {exp['unknown']} unknown)"
            )
    guard = report.guardrails
    if guard and guard.get("changed"):
        lines.append(f"  guardrails          {guard['changed']} requests change: {guard['before']} -> {guard['after']}")
    if report.cache is not None:
        c = report.cache
        lines.append(
            f"  candidate cache     {c['exact_hits']} exact + {c['semantic_hits']} semantic hits of {c['lookups']} "
            f"lookups ({c['hit_rate']:.1%}), saving ${c['saved_usd']:.6f}"
        )
    if report.shadow is not None:
        s = report.shadow
        lines.append(
            f"  live shadow         {s['sent']} sent, {s['answered']} answered, {s['errors']} errors; "
            f"similarity to the original answers: mean {s['mean_similarity']}, min {s['min_similarity']} "
            f"({s['with_original']} originals found); latency p50 {s['latency_p50_ms']} ms; cost ${s['cost_usd']}"
        )
    return "\n".join(lines)


def write_report(report: ReplayReport, path: Path) -> None:
    import json

    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
