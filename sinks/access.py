"""Who may read the analytics on the sink's query port, and what a tenant's reader may see.

Readers are configured under ``sink.readers``: a name, a token (by SHA-256 or environment variable) and
optionally one tenant. A request presents the token as ``Authorization: Bearer <token>``, or, in a
browser, as the password of HTTP Basic auth (the dashboards ask for it). With no readers the port is
open; the config allows that only on a loopback address.

A reader with a tenant sees that tenant's rows and nothing else:

- its SQL must be one SELECT, and every table it reads, as ClickHouse itself resolves the names
  (``EXPLAIN QUERY TREE``: CTEs, subqueries, ``IN`` sets), must be a table or view of the Turnout
  database that has a ``tenant`` column. Table functions (``merge``, ``remote``, ``url``...) and other
  databases (``system``) are refused;
- it runs read-only with ``additional_table_filters`` putting ``tenant = '<its tenant>'`` on every such
  table and view, so no join or view reaches another tenant's rows; read-only mode refuses a query that
  tries to change that setting;
- its dashboards are pinned to its tenant, whatever the page's filter says.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemas.config import TurnoutConfig, hash_key
from schemas.credentials import resolve_readers, sink_client_token

__all__ = ["OPEN", "QueryRefused", "Reader", "Readers", "TenantScope", "client_headers"]


@dataclass(frozen=True, slots=True)
class Reader:
    name: str
    tenant: str | None = None  # None: every tenant


OPEN = Reader("open")  # who a request is when no readers are configured


class QueryRefused(ValueError):
    """A tenant's reader asked for something outside its tenant's tables."""


class Readers:
    def __init__(self, config: TurnoutConfig) -> None:
        self._by_hash = {h: Reader(r.name, r.tenant) for h, r in resolve_readers(config).items()}

    @property
    def open(self) -> bool:
        return not self._by_hash

    def identify(self, authorization: str | None) -> Reader | None:
        """The reader whose token the header carries; None for no token or a wrong one."""
        if self.open:
            return OPEN
        token = presented_token(authorization)
        return self._by_hash.get(hash_key(token)) if token else None


def presented_token(authorization: str | None) -> str | None:
    """The token in ``Bearer <token>``, or the password in ``Basic base64(user:password)``."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def client_headers(config: TurnoutConfig) -> dict[str, str]:
    """What Turnout's own processes send to the query port: the token in ``sink.client_token_env``."""
    token = sink_client_token(config)
    return {"authorization": f"Bearer {token}"} if token else {}


_TABLE = re.compile(r"\bTABLE id: \d+.*?\btable_name: ([^\s,]+)")
_TABLE_FUNCTION = re.compile(r"\bTABLE_FUNCTION id: \d+.*?\btable_function_name: ([^\s,]+)")

Run = Callable[[str], list[list[Any]]]  # SQL -> rows, read-only


class TenantScope:
    """The check and the settings that hold a tenant's reader to its own rows."""

    def __init__(self, database: str, run: Run) -> None:
        self._db = database
        self._run = run
        self._relations: frozenset[str] | None = None
        self._lock = threading.Lock()

    def relations(self) -> frozenset[str]:
        """``db.name`` of every table and view with a tenant column (learned once, after migrations)."""
        with self._lock:
            if self._relations is None:
                rows = self._run(f"SELECT table FROM system.columns WHERE database = '{self._db}' AND name = 'tenant'")
                self._relations = frozenset(f"{self._db}.{r[0]}" for r in rows)
            return self._relations

    def check(self, sql: str) -> None:
        """Raise :class:`QueryRefused` unless every table ``sql`` reads is a tenant table."""
        try:
            plan = self._run(f"EXPLAIN QUERY TREE {sql}")
        except Exception as exc:
            raise QueryRefused(f"a tenant's reader may run one SELECT over Turnout's tables ({exc})") from None
        allowed = self.relations()
        for (line,) in plan:
            function = _TABLE_FUNCTION.search(str(line))
            if function:
                raise QueryRefused(f"a tenant's reader may not use the table function {function.group(1)}()")
            table = _TABLE.search(str(line))
            if table and table.group(1) not in allowed:
                raise QueryRefused(
                    f"a tenant's reader may not read {table.group(1)} (only tables with a tenant column)"
                )

    def settings(self, tenant: str) -> dict[str, Any]:
        """The query settings that filter every tenant table to ``tenant``."""
        quoted = tenant.replace("\\", "\\\\").replace("'", "\\'")
        return {"additional_table_filters": {name: f"tenant = '{quoted}'" for name in self.relations()}}
