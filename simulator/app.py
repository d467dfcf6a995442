"""The simulator's Starlette application.

Each wire format contributes its routes (today :mod:`simulator.openai_wire`);
:mod:`simulator.control` adds health and ``/_sim`` control routes. The mutable
state of an app lives on ``app.state.sim`` (a :class:`SimulatorState`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from simulator import anthropic_wire, bedrock_wire, control, gemini_wire, openai_wire
from simulator.faults import UVICORN_ERROR_LOGGER, BrokenStreamLogFilter
from simulator.openai_payloads import error_body
from simulator.state import SimulatorConfig, SimulatorState


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    """Keep deliberate connection cuts out of the server's error log while running."""
    log_filter = BrokenStreamLogFilter()
    logger = logging.getLogger(UVICORN_ERROR_LOGGER)
    logger.addFilter(log_filter)
    try:
        yield
    finally:
        logger.removeFilter(log_filter)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    message = f"{detail}: {request.method} {request.url.path}"
    body = error_body(message, "invalid_request_error", None, None)
    return Response(orjson.dumps(body), status, media_type="application/json")


def build_app(config: SimulatorConfig | None = None) -> Starlette:
    """A fresh simulator app with its own state (stats, fault rules)."""
    app = Starlette(
        routes=[
            *openai_wire.routes(),
            *gemini_wire.routes(),
            *bedrock_wire.routes(),
            *anthropic_wire.routes(),
            *control.routes(),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=_lifespan,
    )
    app.state.sim = SimulatorState(config or SimulatorConfig())
    return app
