"""Budget alerts to webhooks: POSTed off the ledger's path, a few tries each, failures logged.

The body is the alert as JSON (the fields of ``BudgetEvent``), with ``"type": "budget.threshold"``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import httpx

from schemas.events import BudgetEvent

__all__ = ["WebhookSender", "alert_body"]

log = logging.getLogger(__name__)

TRIES = 3
TIMEOUT_S = 5.0


def alert_body(alert: BudgetEvent) -> dict[str, Any]:
    return {"type": "budget.threshold", **dataclasses.asdict(alert)}


class WebhookSender:
    """One client for every budget's webhook; each alert is sent by a task of its own."""

    def __init__(self, urls: dict[str, str]) -> None:
        self._urls = urls
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, alert: BudgetEvent) -> None:
        url = self._urls.get(alert.budget)
        if url is None:
            return
        task = asyncio.get_running_loop().create_task(self._post(url, alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, alert: BudgetEvent) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        for attempt in range(1, TRIES + 1):
            try:
                reply = await self._client.post(url, json=alert_body(alert))
                if reply.status_code < 500:
                    if reply.status_code >= 400:
                        log.warning("budget webhook %s refused the alert: HTTP %d", url, reply.status_code)
                    return
                reason = f"HTTP {reply.status_code}"
            except httpx.HTTPError as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < TRIES:
                await asyncio.sleep(0.5 * attempt)
        log.warning("budget webhook %s failed after %d tries (%s)", url, TRIES, reason)
