"""The ``turnout`` command.

turnout gateway  --config FILE        the HTTP ingress
turnout worker   --config FILE        one Faust worker running the stages
turnout sink     --config FILE        the ClickHouse sink (and its query port)
turnout simulate --port 18080         the provider simulator
turnout run      --config FILE        gateway, workers and sink together, in the foreground
turnout demo     --config FILE        the stack, a few dozen requests, a summary; then stops
turnout sql      --config FILE "SQL"  query ClickHouse (through the sink when it runs)
turnout replay   --config FILE --policy CANDIDATE --since T [--until T] [--out F] [--live]   try a policy on traffic
turnout kill     --config FILE SCOPE VALUE [--reason R]   stop every request of a tenant, team, user, feature or key
turnout unkill   --config FILE SCOPE VALUE                lift that kill switch
turnout eval guard FILE.jsonl         guardrails' PII recall/precision and injection rates, as JSON
turnout eval route FILE.jsonl         the router's accuracy and cost saving on labelled prompts, as JSON
turnout eval cache FILE.jsonl         the semantic cache's precision, recall and lookup latency on pairs, as JSON
turnout hash-key SECRET               the SHA-256 to put in a virtual key's key_sha256
turnout bench [--quick]               Turnout beside direct calls and LiteLLM (bench/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from schemas.config import ConfigError, TurnoutConfig, hash_key, load_config
from streams.log_limits import limit_repeats

__all__ = ["main"]

DEFAULT_CONFIG = "config/turnout.yaml"


GC_GEN0_THRESHOLD = 50_000  # allocations (less deallocations) between young collections; CPython's is 700


def _long_running() -> None:
    """Garbage collection for a process that runs for days: what is alive once it has started
    (modules, config, compiled rules, clients) is frozen out of every later collection, and the
    young generation is collected after 50,000 allocations, not 700. A request allocates a few
    hundred objects that live until it is answered; with 700 a collection ran every few requests
    and scanned all of them."""
    if os.environ.get("TURNOUT_GC") == "default":
        return
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def _config(args: argparse.Namespace) -> TurnoutConfig:
    config = load_config(args.config)
    overrides = {}
    topology: dict[str, object] = {}
    if getattr(args, "layout", None):
        topology["layout"] = args.layout
    if getattr(args, "web_port", None):
        topology["web_port"] = args.web_port
    if topology:
        overrides["topology"] = config.topology.model_copy(update=topology)
    return config.model_copy(update=overrides) if overrides else config


def cmd_gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from ingress.app import build_ingress
    from streams.topics import TopicNames
    from turnout.client import TurnoutClient

    config = _config(args)
    client = TurnoutClient(
        config.kafka.bootstrap, TopicNames(config.kafka.topic_prefix), instance_id=config.gateway.instance_id
    )
    app = build_ingress(config, client)
    port = args.port if args.port is not None else config.gateway.port
    print(f"turnout gateway on http://{config.gateway.host}:{port}/v1", flush=True)
    http = "httptools" if _has("httptools") else "h11"
    _long_running()
    public = uvicorn.Config(app, host=config.gateway.host, port=port, log_level="warning", access_log=False, http=http)
    admin_port = config.gateway.admin_port if args.admin_port is None else args.admin_port or None
    if admin_port is None:
        uvicorn.Server(public).run()
        return 0
    from ingress.admin import build_admin

    admin = build_admin(app.state.ingress, args.config)
    private = uvicorn.Config(admin, host="127.0.0.1", port=admin_port, log_level="warning", http=http)
    print(f"turnout admin API on http://127.0.0.1:{admin_port}/admin", flush=True)
    asyncio.run(_serve_both(uvicorn.Server(public), uvicorn.Server(private)))
    return 0


async def _serve_both(public: Any, private: Any) -> None:
    """The public and the admin server in one loop; when one stops, the other is told to stop too."""
    tasks = [asyncio.create_task(public.serve()), asyncio.create_task(private.serve())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    public.should_exit = private.should_exit = True
    await asyncio.gather(*tasks)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def cmd_worker(args: argparse.Namespace) -> int:
    if args.loop == "uvloop":  # before any loop exists: the worker's, and its consumer thread's
        import mode.loop

        mode.loop.use("uvloop")
    from faust.worker import Worker

    from streams.app import build_app
    from turnout.kafka_admin import prepare_topics

    config = _config(args)
    prepare_topics(config.kafka)
    app = build_app(config)
    worker = Worker(app, loglevel=args.log_level, quiet=True, redirect_stdouts=False)
    _long_running()
    worker.execute_from_commandline()
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    from sinks.clickhouse import ClickHouseSink, serve_queries
    from turnout.kafka_admin import prepare_topics

    config = _config(args)
    prepare_topics(config.kafka)
    sink = ClickHouseSink(config)
    _long_running()
    server = serve_queries(sink, config.sink.query_host, config.sink.query_port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sink.stop())
    print(
        f"turnout sink writing to {config.clickhouse.dsn}; queries on "
        f"http://{config.sink.query_host}:{server.server_port}/query",
        flush=True,
    )
    sink.run()
    server.shutdown()
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulator.server import main as simulate

    return simulate(["--host", args.host, "--port", str(args.port)])


def cmd_sql(args: argparse.Namespace) -> int:
    from turnout.analytics import run_sql

    result = run_sql(_config(args), args.sql)
    print("\t".join(result.columns))
    for row in result.rows:
        print("\t".join(str(v) for v in row))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from turnout.stack import Stack

    config = _config(args)
    stack = Stack(args.config, config, workers=args.workers, layout=args.layout, simulator=args.simulator)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with stack:
        stack.wait_ready()
        print(f"turnout is up: base URL {stack.base_url}  (Ctrl-C stops it)", flush=True)
        while not stop.is_set() and stack.all_alive():
            stop.wait(0.5)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from turnout.demo import run_demo

    return asyncio.run(run_demo(args.config, _config(args), requests=args.requests, workers=args.workers))


def cmd_kill(args: argparse.Namespace) -> int:
    from turnout.controls import set_kill_switch

    event = set_kill_switch(_config(args).kafka, args.scope, args.value, args.command == "kill", args.reason)
    state = "stopped" if event.killed else "allowed again"
    print(f"{event.scope} {event.value}: {state} on every worker (within a second)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    if args.kind == "guard":
        from turnout.guard_eval import evaluate_guard_file

        result = evaluate_guard_file(args.file)
    elif args.kind == "cache":
        from turnout.cache_eval import evaluate_cache_file

        result = evaluate_cache_file(args.file)
    else:
        from turnout.route_eval import evaluate_route_file

        result = evaluate_route_file(args.file, load_config(args.config))
    print(json.dumps(result, indent=2))
    return 0


def _time_ms(text: str) -> int:
    """Milliseconds since the epoch from epoch seconds or an ISO 8601 time (UTC unless it says)."""
    from datetime import UTC, datetime

    try:
        return int(float(text) * 1000)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def cmd_replay(args: argparse.Namespace) -> int:
    import time

    from turnout.replay import parse_offsets, render, replay, write_report

    policy_text = Path(args.policy).read_text()
    until_ms = _time_ms(args.until) if args.until else int(time.time() * 1000)
    report = replay(
        _config(args),
        load_config(args.policy),
        policy_text,
        _time_ms(args.since) if args.since else 0,
        until_ms,
        shadow=args.live,
        rate_per_s=args.rate,
        source=args.source,
        offsets=parse_offsets(args.offsets) if args.offsets else None,
    )
    print(render(report))
    if args.out:
        write_report(report, args.out)
    return 0


def cmd_hash_key(args: argparse.Namespace) -> int:
    print(hash_key(args.secret))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from bench.command import run_from_args

    return run_from_args(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="turnout", description="Turnout, an AI gateway on Kafka.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--config", default=DEFAULT_CONFIG, type=Path)
        return p

    p = with_config("gateway", "run the HTTP ingress")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--admin-port", type=int, help="the admin API's port (0: none; for a second gateway on the same host)"
    )
    p.set_defaults(func=cmd_gateway)
    p = with_config("worker", "run one Faust worker")
    p.add_argument("--layout", choices=["split", "fused"])
    p.add_argument("--web-port", type=int, help="serve /metrics here (loopback); overrides topology.web_port")
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the event loop (uvloop: about a tenth less CPU per request than asyncio's own)",
    )
    p.set_defaults(func=cmd_worker)
    with_config("sink", "run the ClickHouse sink").set_defaults(func=cmd_sink)
    p = sub.add_parser("simulate", help="run the provider simulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18080)
    p.set_defaults(func=cmd_simulate)
    p = with_config("sql", "query ClickHouse")
    p.add_argument("sql")
    p.set_defaults(func=cmd_sql)
    p = with_config("run", "run gateway, workers and sink in the foreground")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--layout", choices=["split", "fused"])
    p.add_argument("--simulator", action="store_true", help="also start the provider simulator")
    p.set_defaults(func=cmd_run)
    p = with_config("demo", "send sample requests through the stack and print a summary")
    p.add_argument("--requests", type=int, default=40)
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_demo)
    for name, help_ in (("kill", "stop every request of a caller"), ("unkill", "lift a kill switch")):
        p = with_config(name, help_)
        p.add_argument("scope", choices=["tenant", "team", "user", "feature", "key"])
        p.add_argument("value", help="acme, acme/TEAM, acme/USER, acme/FEATURE, or a key's id")
        p.add_argument("--reason", default="")
        p.set_defaults(func=cmd_kill)
    p = with_config("replay", "replay recorded traffic through a candidate policy (dry, or --live shadow)")
    p.add_argument("--policy", required=True, type=Path, help="the candidate config file")
    window = p.add_mutually_exclusive_group(required=True)
    window.add_argument("--since", help="the window's start: epoch seconds or ISO 8601")
    window.add_argument("--offsets", help="the window by offsets of the request topic: P:START-END[,P:START-END]")
    p.add_argument("--until", help="the window's end (default: now)")
    p.add_argument("--out", type=Path, help="also write the report as JSON")
    p.add_argument("--live", action="store_true", help="send the changed requests to their candidate (shadow)")
    p.add_argument("--rate", type=float, default=5.0, help="live shadow: calls started per second (default 5)")
    p.add_argument(
        "--source",
        choices=["auto", "topic", "clickhouse"],
        default="auto",
        help="where the window is read: the request topic, ClickHouse's rows (no text), or auto (the topic "
        "while it holds the window)",
    )
    p.set_defaults(func=cmd_replay)
    p = with_config("eval", "quality evaluations on labelled JSONL files")
    p.add_argument("kind", choices=["guard", "route", "cache"])
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("hash-key", help="print the SHA-256 of a virtual key")
    p.add_argument("secret")
    p.set_defaults(func=cmd_hash_key)
    p = sub.add_parser("bench", help="benchmark Turnout beside direct calls and LiteLLM (bench/README.md)")
    p.add_argument("--quick", action="store_true", help="a short smoke run; its figures are not results")
    p.add_argument("--out", type=Path, help="the JSON results (default bench/results/latest.json)")
    p.add_argument("--no-litellm", action="store_true", help="leave LiteLLM out (no install, no comparison)")
    p.add_argument("--client", choices=["raw", "httpx"], help="the load generator's HTTP client (default raw)")
    p.add_argument("--open-rate", type=float, help="requests per second of the open-loop cells")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # a broker outage: one line per kind of Kafka client error every 10 s, not hundreds a second
    # (aiokafka's loggers, and librdkafka's wherever a client is made with rdkafka_logging())
    limit_repeats()
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
