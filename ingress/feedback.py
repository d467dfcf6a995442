"""``POST /v1/feedback``: a caller rates one of its own tenant's requests.

Body: ``{"request_id": "...", "score": 0..1, "comment": "...", "id": "..."}`` (``comment`` and ``id``
optional; ``id`` makes a retried POST one rating, not two). The request must be one of the key's
tenant's: it is looked up in ClickHouse (through the sink's query port), waiting a few seconds for a
request that has only just been answered; another tenant's request, or none, is a 404 with the same
message (a caller learns nothing about ids that are not its own). The rating goes to the feedback topic
and from there to ClickHouse ``feedback``, which ``feedback_by_route`` joins to the request.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

import httpx

from schemas.config import TurnoutConfig
from schemas.errors import InvalidRequest, NotFound, ServiceUnavailable
from schemas.events import Caller, FeedbackEvent
from sinks.access import client_headers

log = logging.getLogger(__name__)

__all__ = ["FeedbackDesk", "parse_feedback"]

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
MAX_COMMENT = 4000
LOOKUP_WAIT_S = 5.0  # a request answered a moment ago may not be in ClickHouse yet


def parse_feedback(body: Any, caller: Caller, now_us: int) -> FeedbackEvent:
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = sorted(set(body) - {"request_id", "score", "comment", "id"})
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0]!r}.", param=unknown[0])
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not _ID.match(request_id):
        raise InvalidRequest("request_id: expected the x-request-id of one of your requests.", param="request_id")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise InvalidRequest("score: expected a number from 0 (bad) to 1 (good).", param="score")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise InvalidRequest(f"comment: expected a string of at most {MAX_COMMENT} characters.", param="comment")
    feedback_id = body.get("id")
    if feedback_id is not None and (not isinstance(feedback_id, str) or not _ID.match(feedback_id)):
        raise InvalidRequest("id: expected 1 to 128 of A-Z a-z 0-9 _ . : -", param="id")
    return FeedbackEvent(
        request_id=request_id,
        tenant=caller.tenant,
        key_id=caller.key_id,
        user=caller.user,
        score=float(score),
        at_us=now_us,
        comment=comment,
        feedback_id=feedback_id or uuid.uuid4().hex,
    )


class FeedbackDesk:
    """Checks that a rated request is the caller's tenant's, through the sink's query port."""

    def __init__(self, config: TurnoutConfig) -> None:
        self._url = f"http://{config.sink.query_host}:{config.sink.query_port}/query"
        self._table = f"{config.clickhouse.database}.requests"
        self._token_env = config.sink.client_token_env
        self._http = httpx.AsyncClient(timeout=5.0, headers=client_headers(config))

    async def close(self) -> None:
        await self._http.aclose()

    async def check_owner(self, feedback: FeedbackEvent) -> None:
        # the id was checked against _ID: no quote can reach the SQL
        where = f"request_id = '{feedback.request_id}' AND tenant = '{_quote(feedback.tenant)}'"
        sql = f"SELECT count() FROM {self._table} WHERE {where}"
        deadline = time.monotonic() + LOOKUP_WAIT_S
        while True:
            try:
                response = await self._http.post(self._url, content=sql.encode())
            except httpx.HTTPError:
                raise ServiceUnavailable("Feedback cannot be checked right now (analytics unreachable).") from None
            if response.status_code in (401, 403):
                log.error("the sink refused the gateway's token: set %s to a reader's token", self._token_env)
                raise ServiceUnavailable("Feedback cannot be checked right now (analytics refused the gateway).")
            if response.status_code != 200:
                raise ServiceUnavailable("Feedback cannot be checked right now (analytics query failed).")
            if response.json()["rows"][0][0] > 0:
                return
            if time.monotonic() >= deadline:
                raise NotFound(f"No request {feedback.request_id!r} for this key's tenant.", param="request_id")
            await asyncio.sleep(0.2)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
