"""``turnout demo``: the whole stack on this machine, a few dozen requests through the official
``openai`` SDK, and a summary from ClickHouse. Kafka and Redis must be up (``make demo`` does it)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import openai
from openai.types.chat import ChatCompletionMessageParam

from schemas.config import TurnoutConfig
from turnout.analytics import run_sql
from turnout.stack import Stack, wait_until

__all__ = ["run_demo"]

DEMO_KEY = "sk-turnout-demo"
PROMPTS = [
    "Summarise the plot of Hamlet in two sentences.",
    "What is the capital of Australia?",
    "Write a haiku about message queues.",
    "Explain what a circuit breaker does in a distributed system.",
    "Give me three names for a coffee shop run by robots.",
    "Translate 'good morning' into French, Spanish and German.",
    "How many minutes are there in a week?",
    "List the planets of the solar system in order.",
]

SUMMARY_SQL = """
SELECT logical_model, deployment, count() AS requests, countIf(status != 200) AS errors,
       sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd, countIf(cache_status = 'hit') AS cache_hits,
       round(sum(cache_saved_usd), 6) AS saved_usd,
       round(quantile(0.5)(total_us) / 1000, 1) AS p50_ms, round(quantile(0.99)(total_us) / 1000, 1) AS p99_ms,
       round(quantile(0.5)(total_us - upstream_us) / 1000, 1) AS gateway_p50_ms
FROM {db}.requests FINAL
WHERE request_id IN ({ids})
GROUP BY logical_model, deployment
ORDER BY logical_model
"""


MODELS = ["smart-chat", "best-cheap-chat", "claude-chat", "gemini-chat", "nova-chat", "faq-chat"]


async def _send(client: openai.AsyncOpenAI, i: int, rng: random.Random) -> str:
    model = MODELS[i % len(MODELS)]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": rng.choice(PROMPTS)}]
    if i % 4 == 0:
        stream = await client.chat.completions.create(
            model=model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
        request_id = ""
        async for chunk in stream:
            request_id = chunk.id.removeprefix("chatcmpl-")
        return request_id
    reply = await client.chat.completions.with_raw_response.create(model=model, messages=messages)
    return reply.headers["x-request-id"]


async def run_demo(config_path: str | Path, config: TurnoutConfig, *, requests: int = 40, workers: int = 2) -> int:
    rng = random.Random(7)
    with Stack(config_path, config, workers=workers, simulator=True) as stack:
        print(f"starting the stack: sink, {workers} workers, gateway, simulator ...", flush=True)
        stack.wait_ready()
        client = openai.AsyncOpenAI(base_url=stack.base_url, api_key=DEMO_KEY, max_retries=0, timeout=60)
        started = time.monotonic()
        limit = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            async with limit:
                return await _send(client, i, rng)

        ids = await asyncio.gather(*(one(i) for i in range(requests)))
        print(f"sent {requests} requests through the openai SDK in {time.monotonic() - started:.1f} s", flush=True)
        id_list = ",".join(f"'{i}'" for i in ids)
        count_sql = f"SELECT count() FROM {config.clickhouse.database}.requests FINAL WHERE request_id IN ({id_list})"
        wait_until(lambda: run_sql(config, count_sql).rows[0][0] == requests, 60, "rows in ClickHouse", 0.25)
        result = run_sql(config, SUMMARY_SQL.format(db=config.clickhouse.database, ids=id_list))
        _print_table(result.columns, result.rows)
        await client.close()
    return 0


def _print_table(columns: list[str], rows: list[list[object]]) -> None:
    cells = [columns, *[[str(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    print("\nrequests by model (from ClickHouse):")
    for n, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if n and i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
