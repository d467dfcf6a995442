"""Where a sequential request's added latency goes: each stage, and each Kafka hop between them.

    python -m bench.hops [--layout split] [--workers 2] [--requests 300] [--delay-ms 60] [--stream] [--pause-ms 20]

Starts the simulator and one Turnout stack as the benchmark does (``bench.systems``), sends
``--requests`` requests one at a time with the benchmark's HTTP client (``--delay-ms`` of upstream
delay, 0 by default; the 2 KB chat request), and reads each request's spans back from the stack's
ClickHouse. The spans carry every stage's start and end and every provider attempt (all processes
share this machine's clock), so a request's time splits into:

- ``client -> ingress``: from the client's send to the ingress's ``received_at`` (HTTP parsing, auth),
- ``stage S``: the time the stage itself took (``StageTiming``),
- ``hop -> S``: from the previous stage's end (or the ingress) to stage S's start: one Kafka hop
  (the produce, the broker, the consumer's fetch, Faust's dispatch),
- ``provider``: the attempts inside the invoke stage (also counted in that stage),
- ``-> output_guard answered``: from the last timed stage's end to the output guard's answer (split:
  a Kafka hop and the guard; fused: the guard),
- ``reply -> client``: from the answer to the client having read the reply (the record and the reply
  produced, the reply topic, the gateway's reply consumer, the HTTP response).

With ``--stream`` the time to the first token splits too: to the invoke stage, the invoke stage
to its provider call, the provider's first token (the attempt's ``ttft_us``), and from that token
at the worker to the client's first chunk (the chunk produced, the reply topic, the gateway).

``--pause-ms`` waits that long before each request: in the benchmark's sequential cell a system is
idle while the four others answer, and a request that finds the processes on its path idle takes
longer (``bench/README.md``, "What was tried").

``--trace`` also takes each Kafka hop apart (the stage's produce, the broker, aiokafka's decoding,
faust's dispatch: ``bench.hop_parts``), from events that ``bench/hop_trace`` logs in every process.

Prints p50, p90 and p99 of each part in ms. Not a benchmark cell: it explains the ``sequential`` cell's
figures; the benchmark's own numbers come from ``python -m bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.clients import PreparedRequest, RawClient
from bench.hop_parts import hop_parts, read_trace
from bench.systems import TURNOUT_KEY, alone
from bench.workload import chat_body, gateway_model, upstream_model


async def _send_each(
    requests: list[PreparedRequest], pause_s: float = 0.0
) -> list[tuple[float, float, str | None, float, float | None]]:
    """Each request in turn (after ``pause_s`` of quiet): (sent, received) wall-clock µs, its
    ``x-request-id``, its latency and its time to the first content chunk in ms (streams only)."""
    client = RawClient(timeout_s=30)
    out = []
    try:
        for request in requests:
            if pause_s:
                await asyncio.sleep(pause_s)
            sent = time.time() * 1e6
            outcome = await client.send(request)
            received = time.time() * 1e6
            if not outcome.ok:
                raise RuntimeError(f"{request.name}: {outcome.error or outcome.status}")
            ttft = outcome.ttft_s * 1000 if outcome.ttft_s is not None else None
            out.append((sent, received, outcome.request_id, outcome.latency_s * 1000, ttft))
    finally:
        await client.close()
    return out


def breakdown(sent_us: float, received_us: float, spans: list[dict[str, Any]]) -> dict[str, float]:
    """One request's parts in ms, from its spans (``name``, ``start_us``, ``end_us``)."""
    request = next((s for s in spans if s["name"] == "turnout.request"), None)
    if request is None:
        raise ValueError("the request's own span (turnout.request) is missing")
    stages = sorted((s for s in spans if s["name"].startswith("stage ")), key=lambda s: s["start_us"])
    parts = {"client -> ingress": (request["start_us"] - sent_us) / 1000}
    previous_end = request["start_us"]
    for stage in stages:
        name = stage["name"].removeprefix("stage ")
        parts[f"hop -> {name}"] = (stage["start_us"] - previous_end) / 1000
        parts[f"stage {name}"] = (stage["end_us"] - stage["start_us"]) / 1000
        previous_end = stage["end_us"]
    parts["provider"] = sum(s["end_us"] - s["start_us"] for s in spans if s["name"].startswith("provider ")) / 1000
    # the output guard answers: the request's span ends there (split: one more hop before it)
    parts["-> output_guard answered"] = (request["end_us"] - previous_end) / 1000
    parts["reply -> client"] = (received_us - request["end_us"]) / 1000
    parts["total"] = (received_us - sent_us) / 1000
    return parts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hops", description=__doc__.split("\n")[0])
    p.add_argument("--layout", choices=["fused", "split"], default="split")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--delay-ms", type=int, choices=[0, 60], default=0, help="the simulator's upstream delay")
    p.add_argument("--stream", action="store_true", help="streaming requests (the parts end at the last chunk)")
    p.add_argument(
        "--trace",
        action="store_true",
        help="also take each Kafka hop between stages apart: producer, broker, consumer (bench.hop_parts)",
    )
    p.add_argument(
        "--pause-ms",
        type=float,
        default=0.0,
        help="quiet before each request (the benchmark's rounds leave each system idle between its requests)",
    )
    args = p.parse_args(argv)
    from turnout.analytics import run_sql

    trace_dir = _trace_the_stack() if args.trace else None
    with alone(args.layout, workers=args.workers, delays_ms=(args.delay_ms,), name="hops") as (simulator, stack, _):
        body = json.dumps(chat_body(gateway_model(args.delay_ms), args.stream)).encode()
        direct_body = json.dumps(chat_body(upstream_model(args.delay_ms), args.stream)).encode()
        auth = {"Authorization": f"Bearer {TURNOUT_KEY}"}
        turnout = PreparedRequest("turnout", f"{stack.system.base_url}/chat/completions", auth, body, args.stream)
        direct_url = f"{simulator.system.base_url}/chat/completions"
        direct = PreparedRequest("direct", direct_url, {"Authorization": "Bearer x"}, direct_body, args.stream)
        asyncio.run(_send_each([turnout, direct] * 20))  # warm-up: connections, caches, the first requests' slow paths
        rounds = asyncio.run(_send_each([turnout, direct] * args.requests, args.pause_ms / 1000))
        measured = rounds[0::2]
        direct_ms = [r[3] for r in rounds[1::2]]
        ids = [r[2] for r in measured if r[2]]
        from schemas.config import load_config

        config = load_config(Path(stack.info["config_path"]))
        listed = ",".join(f"'{i}'" for i in ids)
        sql = (
            f"SELECT request_id, name, toUnixTimestamp64Micro(start), toUnixTimestamp64Micro(end) "
            f"FROM {config.clickhouse.database}.spans FINAL WHERE request_id IN ({listed})"
        )
        deadline = time.monotonic() + 60
        while True:
            rows = run_sql(config, sql).rows
            found = {r[0] for r in rows if r[1] == "turnout.request"}
            if len(found) == len(ids) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        spans: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for request_id, name, start, end in rows:
            spans[request_id].append({"name": name, "start_us": start, "end_us": end})
        first_token: dict[str, int] = {}  # streams: when the worker had the provider's first token
        if args.stream:
            sql = (
                f"SELECT request_id, toUnixTimestamp64Micro(started_at) + ttft_us "
                f"FROM {config.clickhouse.database}.attempts FINAL "
                f"WHERE request_id IN ({listed}) AND ok AND ttft_us IS NOT NULL"
            )
            first_token = {r[0]: r[1] for r in run_sql(config, sql).rows}
        parts: dict[str, list[float]] = defaultdict(list)
        for sent, received, request_id, _, _ in measured:
            if request_id is not None and request_id in found:
                for name, ms in breakdown(sent, received, spans[request_id]).items():
                    parts[name].append(ms)
        print(
            f"{args.layout}, {args.workers} workers, {len(found)} of {len(measured)} requests found, "
            f"{args.delay_ms} ms upstream{', streaming' if args.stream else ''}"
            f"{f', {args.pause_ms:g} ms pause before each request' if args.pause_ms else ''}; "
            f"direct call p50 {statistics.median(direct_ms):.2f} ms"
        )
        if args.stream:
            for sent, _, request_id, _, ttft in measured:
                spans_of = spans.get(request_id or "", [])
                request = next((s for s in spans_of if s["name"] == "turnout.request"), None)
                token_us = first_token.get(request_id or "")
                invoke = next((s for s in spans_of if s["name"] == "stage invoke"), None)
                provider = next((s for s in spans_of if s["name"].startswith("provider ")), None)
                if ttft is None or request is None or token_us is None or invoke is None or provider is None:
                    continue
                parts["ttft: -> invoke"].append((invoke["start_us"] - sent) / 1000)
                parts["ttft: invoke -> provider call"].append((provider["start_us"] - invoke["start_us"]) / 1000)
                parts["ttft: provider's first token"].append((token_us - provider["start_us"]) / 1000)
                parts["ttft: first chunk -> client"].append(ttft - (token_us - sent) / 1000)
            parts["ttft (client)"] = [r[4] for r in measured if r[4] is not None]
            parts["ttft (direct)"] = [r[4] for r in rounds[1::2] if r[4] is not None]
        _print_parts(parts)
        if trace_dir is not None:
            measured_spans = [spans[r[2]] for r in measured if r[2] is not None and r[2] in found]
            print("Kafka hops taken apart (aiokafka's produce and fetch, traced in every worker):")
            _print_parts(hop_parts(measured_spans, read_trace(trace_dir)))
    return 0


def _print_parts(parts: dict[str, list[float]]) -> None:
    width = max([28, *(len(name) for name in parts)])
    print(f"  {'part':<{width}} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for name, values in parts.items():
        ordered = sorted(values)
        p90, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.9, 0.99))
        print(f"  {name:<{width}} {statistics.median(values):8.2f} {p90:8.2f} {p99:8.2f}")


def _trace_the_stack() -> Path:
    """Make every process of the stack started next log its Kafka events (``bench/hop_trace``)."""
    folder = Path(tempfile.mkdtemp(prefix="turnout-hop-trace-"))
    hook = Path(__file__).resolve().parent / "hop_trace"
    os.environ["TURNOUT_HOP_TRACE"] = str(folder)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p)
    return folder


if __name__ == "__main__":
    raise SystemExit(main())
