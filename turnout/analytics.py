"""Queries for analysts: through the running sink's query port, or straight from the chDB path."""

from __future__ import annotations

import httpx

from schemas.config import TurnoutConfig
from sinks.access import client_headers
from sinks.clickhouse import QueryResult, open_clickhouse

__all__ = ["run_sql"]


def run_sql(config: TurnoutConfig, sql: str, timeout_s: float = 30.0) -> QueryResult:
    url = f"http://{config.sink.query_host}:{config.sink.query_port}/query"
    try:
        resp = httpx.post(url, content=sql.encode(), headers=client_headers(config), timeout=timeout_s)
    except httpx.ConnectError:
        client = open_clickhouse(config.clickhouse.dsn, config.clickhouse.database)
        result = client.query(sql, settings={"readonly": 1})
        return QueryResult(list(result.column_names), [list(r) for r in result.result_rows])
    body = resp.json()
    if resp.status_code != 200:
        raise ValueError(body.get("error", "query failed"))
    return QueryResult(body["columns"], body["rows"])
