"""Logins on the sink's query port, and a tenant's reader held to its tenant's rows, on real chDB."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from schemas.config import TurnoutConfig, hash_key
from schemas.events import Caller, FeedbackEvent, RequestRecord, Usage
from sinks.clickhouse import ClickHouseSink, serve_queries
from sinks.rows import TABLE_COLUMNS, rows_for
from turnout.analytics import run_sql

ADMIN, ACME, GLOBEX = "tok-admin-secret", "tok-acme-secret", "tok-globex-secret"
CALLERS = {
    "acme": Caller(tenant="acme", team="platform", user="alice", tier="paid", key_id="demo", feature="search"),
    "globex": Caller(tenant="globex", team="research", user="bob", tier="free", key_id="team-b", feature="chat"),
}
COUNTS = {"acme": 3, "globex": 5}


def _record(tenant: str, i: int) -> RequestRecord:
    now = int(time.time() * 1e6)
    return RequestRecord(
        request_id=f"{tenant}-{i}",
        caller=CALLERS[tenant],
        source="http",
        received_at_us=now,
        finished_at_us=now + 2000,
        logical_model="smart-chat",
        status=200,
        usage=Usage(10, 5, 0, 15),
        total_us=2000,
        deployment="sim-gpt-4o",
        cost_usd=0.01 * (i + 1),
    )


@pytest.fixture(scope="module")
def served(make_config: Any) -> Iterator[tuple[str, TurnoutConfig]]:
    readers = [
        {"name": "finance", "token_sha256": hash_key(ADMIN)},
        {"name": "acme-analyst", "token_sha256": hash_key(ACME), "tenant": "acme"},
        {"name": "globex-analyst", "token_sha256": hash_key(GLOBEX), "tenant": "globex"},
    ]
    _, config = make_config(sink={"readers": readers})
    sink = ClickHouseSink(config)
    events: list[Any] = [_record(t, i) for t, n in COUNTS.items() for i in range(n)]
    events.append(FeedbackEvent("acme-0", "acme", "demo", "alice", 0.9, int(time.time() * 1e6), None, "fb-1"))
    tables: dict[str, list[list[Any]]] = {}
    for event in events:
        for table, row in rows_for(event):
            tables.setdefault(table, []).append(row)
    for table, rows in tables.items():
        sink.client.insert(f"{sink.database}.{table}", rows, column_names=TABLE_COLUMNS[table])
    server = serve_queries(sink, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.server_port}", config
    finally:
        server.shutdown()
        sink.client.close()


def _query(url: str, sql: str, token: str | None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/query", content=sql.replace("{db}", "turnout").encode(), headers=headers, timeout=30)


def _tenants(url: str, token: str, sql: str = "SELECT tenant, count() FROM {db}.requests GROUP BY tenant") -> dict:
    response = _query(url, sql + " ORDER BY 1" if "ORDER" not in sql else sql, token)
    assert response.status_code == 200, response.text
    return {row[0]: row[1] for row in response.json()["rows"]}


def test_no_token_or_a_wrong_one_is_refused(served: tuple[str, TurnoutConfig]) -> None:
    url, _ = served
    for token in (None, "tok-wrong"):
        response = _query(url, "SELECT 1", token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    page = httpx.get(f"{url}/dashboards/finance", timeout=30)
    assert page.status_code == 401
    assert page.headers["www-authenticate"].startswith('Basic realm="Turnout analytics"')


def test_an_all_tenant_reader_sees_every_tenant(served: tuple[str, TurnoutConfig]) -> None:
    url, _ = served
    assert _tenants(url, ADMIN) == COUNTS
    response = _query(url, "SELECT count() FROM system.tables WHERE database = 'turnout'", ADMIN)
    assert response.status_code == 200 and response.json()["rows"][0][0] > 0


def test_a_tenant_reader_sees_its_own_rows_through_tables_views_joins_and_subqueries(
    served: tuple[str, TurnoutConfig],
) -> None:
    url, _ = served
    assert _tenants(url, ACME) == {"acme": 3}
    assert _tenants(url, GLOBEX) == {"globex": 5}
    # naming the other tenant finds nothing
    assert (
        _tenants(url, ACME, "SELECT tenant, count() FROM {db}.requests WHERE tenant = 'globex' GROUP BY tenant") == {}
    )
    # a view over the requests, a CTE, a subquery in IN and a join
    assert _tenants(url, GLOBEX, "SELECT tenant, sum(requests) FROM {db}.requests_daily GROUP BY tenant") == {
        "globex": 5
    }
    cte = "WITH r AS (SELECT * FROM {db}.requests) SELECT tenant, count() FROM r GROUP BY tenant"
    assert _tenants(url, ACME, cte) == {"acme": 3}
    sub = (
        "SELECT tenant, count() FROM {db}.requests WHERE request_id IN "
        "(SELECT request_id FROM {db}.requests WHERE tenant = 'globex') GROUP BY tenant"
    )
    assert _tenants(url, ACME, sub) == {}
    join = (
        "SELECT r.tenant, count() FROM {db}.feedback AS f INNER JOIN {db}.requests AS r "
        "ON f.request_id = r.request_id GROUP BY r.tenant"
    )
    assert _tenants(url, ACME, join) == {"acme": 1}
    assert _tenants(url, GLOBEX, join) == {}


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT name FROM system.tables", "system.tables"),
        ("SELECT * FROM {db}.requests WHERE 1 IN (SELECT 1 FROM system.query_log)", "system.query_log"),
        ("SELECT * FROM merge('turnout', '^requests$')", "merge()"),
        ("SELECT * FROM {db}.breaker_events", "turnout.breaker_events"),
        ("SELECT * FROM {db}.requests SETTINGS additional_table_filters = {}", "readonly"),
        ("DROP TABLE {db}.requests", "one SELECT"),
        ("SHOW TABLES FROM turnout", "one SELECT"),
    ],
)
def test_a_tenant_reader_cannot_leave_its_tenant(served: tuple[str, TurnoutConfig], sql: str, why: str) -> None:
    url, _ = served
    response = _query(url, sql, ACME)
    assert response.status_code in (400, 403), response.text
    assert why in response.json()["error"]
    assert _tenants(url, ADMIN) == COUNTS  # and nothing changed


def test_a_tenant_reader_dashboards_are_pinned_to_its_tenant(served: tuple[str, TurnoutConfig]) -> None:
    url, _ = served
    basic = base64.b64encode(f"acme-analyst:{ACME}".encode()).decode()
    page = httpx.get(f"{url}/dashboards/finance?tenant=globex", headers={"authorization": f"Basic {basic}"}, timeout=30)
    assert page.status_code == 200, page.text
    assert "alice" in page.text and "bob" not in page.text
    assert 'value="globex"' not in page.text  # the tenant filter offers its own tenant only
    everyone = httpx.get(f"{url}/dashboards/finance", headers={"authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert everyone.status_code == 200 and "alice" in everyone.text and "bob" in everyone.text


def test_turnout_sql_presents_the_configured_token(
    served: tuple[str, TurnoutConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, config = served
    port = int(url.rsplit(":", 1)[1])
    config = config.model_copy(update={"sink": config.sink.model_copy(update={"query_port": port})})
    monkeypatch.setenv(config.sink.client_token_env, GLOBEX)
    result = run_sql(config, "SELECT DISTINCT tenant FROM turnout.requests")
    assert result.rows == [["globex"]]
    monkeypatch.setenv(config.sink.client_token_env, "tok-wrong")
    with pytest.raises(ValueError, match="reader's token"):
        run_sql(config, "SELECT 1")


def test_dashboards_of_an_unknown_page_are_404(served: tuple[str, TurnoutConfig]) -> None:
    url, _ = served
    page = httpx.get(f"{url}/dashboards/nope", headers={"authorization": f"Bearer {ADMIN}"}, timeout=30)
    assert page.status_code == 404
