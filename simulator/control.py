"""Health, control and introspection routes (``/healthz``, ``/_sim/...``).

- ``GET /healthz`` -> ``{"status": "ok"}``
- ``GET /_sim/stats`` -> ``{"total": N, "models": {model: {total, streamed,
  errors_injected, broken_streams, hangs}}}``
- ``POST /_sim/reset`` -> clears the statistics and the fault rules
- ``POST /_sim/faults`` with ``{"model": "<name or *>", "knobs": {...},
  "times": <int or null>}`` installs a rule: its knobs apply to the next
  ``times`` chat requests for that model (``null``: until reset/cleared)
- ``GET /_sim/faults`` lists the live rules, ``DELETE /_sim/faults`` clears them
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.knobs import KnobError, Knobs
from simulator.openai_payloads import error_body
from simulator.state import SimulatorState


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json")


def _bad_request(message: str, param: str | None = None) -> Response:
    return _json(error_body(message, "invalid_request_error", param), 400)


def _sim(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


async def healthz(request: Request) -> Response:
    return _json({"status": "ok"})


async def stats(request: Request) -> Response:
    return _json(_sim(request).stats_dict())


async def reset(request: Request) -> Response:
    _sim(request).reset()
    return _json({"status": "reset"})


def _parse_rule(body: object) -> tuple[str, Knobs, int | None]:
    if not isinstance(body, dict):
        raise KnobError("body", "Expected a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise KnobError("model", "'model' must be a model name or '*'.")
    raw_knobs = body.get("knobs", {})
    if not isinstance(raw_knobs, dict):
        raise KnobError("knobs", "'knobs' must be an object.")
    times = body.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise KnobError("times", "'times' must be a positive integer or null.")
    return model, Knobs.from_mapping(raw_knobs), times


async def install_fault(request: Request) -> Response:
    try:
        body = orjson.loads(await request.body())
        model, knobs, times = _parse_rule(body)
    except orjson.JSONDecodeError as exc:
        return _bad_request(f"Malformed JSON: {exc}")
    except KnobError as exc:
        return _bad_request(str(exc), exc.param)
    rule = _sim(request).rules.install(model, knobs, times)
    return _json(rule.to_dict(), 201)


async def list_faults(request: Request) -> Response:
    return _json({"rules": [rule.to_dict() for rule in _sim(request).rules.snapshot()]})


async def clear_faults(request: Request) -> Response:
    _sim(request).rules.clear()
    return _json({"status": "cleared"})


def routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_sim/stats", stats, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/faults", install_fault, methods=["POST"]),
        Route("/_sim/faults", list_faults, methods=["GET"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
    ]
