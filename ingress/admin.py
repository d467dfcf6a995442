"""The admin API: on its own port (loopback by default), with its own credential, never on the
public one.

    GET    /admin/keys      the virtual keys (ids, tenants, teams, users, tiers, models; never secrets)
    POST   /admin/kill      {"scope", "value", "reason"?}: a kill switch, as ``turnout kill``
    DELETE /admin/kill      {"scope", "value"}: lift it
    POST   /admin/reload    read the config file again; a bad file is refused (400, with the path of
                            each bad key), one that changes what needs a restart too (409), and the
                            running config stays; a good one is published to the workers and swapped in

The credential is ``Authorization: Bearer <token>``, checked against ``gateway.admin_token_sha256``
(or the secret in ``gateway.admin_token_env``) in constant time. A reload swaps the gateway's config
and keys in one step: a request sees the old set or the new, never a mix. The workers take it up
from the config topic (``streams.reload``): routes, deployments, providers, guardrails, limits and
cache settings change without a restart; the sections that need one are refused here, before
anything changes. The other gateway processes take it up from the same topic (``Ingress.take_up``),
so one admin call reaches every gateway behind a load balancer.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ingress.auth import KeyRing
from schemas.config import ConfigError, TurnoutConfig, hash_key, load_config
from schemas.errors import AuthenticationFailed, InvalidRequest, TurnoutError, openai_error_body
from streams.controls import KILL_SCOPES
from streams.reload import needs_restart
from turnout.controls import publish_config, set_kill_switch

__all__ = ["build_admin"]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(message: str, code: str, status: int) -> Response:
    return _json({"error": {"message": message, "type": "invalid_request_error", "code": code}}, status)


def _expected_hash(config: TurnoutConfig) -> str:
    gateway = config.gateway
    if gateway.admin_token_sha256:
        return gateway.admin_token_sha256
    secret = os.environ.get(gateway.admin_token_env or "")
    if not secret:
        raise ConfigError(f"gateway.admin_token_env: environment variable {gateway.admin_token_env} is not set")
    return hash_key(secret)


def build_admin(ingress: Any, config_path: str | Path) -> Starlette:
    """The admin app for ``ingress`` (an ``ingress.app.Ingress``), reloading from ``config_path``."""
    expected = _expected_hash(ingress.config)
    reload_lock = asyncio.Lock()

    def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if not token or not hmac.compare_digest(hash_key(token), expected):
            raise AuthenticationFailed("The admin API needs its own token.")

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise InvalidRequest("The body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise InvalidRequest("The body must be a JSON object.")
        return body

    async def keys(request: Request) -> Response:
        check(request)
        fields = ("id", "tenant", "team", "user", "tier", "models")
        listed = [{f: getattr(k, f) for f in fields} for k in ingress.config.keys]
        return _json({"keys": listed})

    async def kill(request: Request) -> Response:
        check(request)
        body = await body_of(request)
        scope, value = body.get("scope"), body.get("value")
        if scope not in KILL_SCOPES:
            raise InvalidRequest(f"scope: one of {', '.join(KILL_SCOPES)}.", param="scope")
        if not isinstance(value, str) or not value:
            raise InvalidRequest("value: the tenant, team, user, feature or key to stop.", param="value")
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise InvalidRequest("reason: a string.", param="reason")
        killed = request.method == "POST"
        event = await asyncio.to_thread(set_kill_switch, ingress.config.kafka, scope, value, killed, reason)
        return _json({"scope": event.scope, "value": event.value, "killed": event.killed, "at_us": event.at_us})

    async def reload(request: Request) -> Response:
        check(request)
        async with reload_lock:
            try:
                fresh = await asyncio.to_thread(load_config, config_path)
                KeyRing(fresh)  # a bad key secret fails here, before anything changes
            except ConfigError as exc:
                return _error(str(exc), "bad_config", 400)
            blocked = needs_restart(ingress.config, fresh)
            if blocked:
                return _error(
                    f"This config changes {', '.join(blocked)}: restart to take it up.", "restart_required", 409
                )
            event = await asyncio.to_thread(publish_config, fresh, str(config_path))  # 503 if Kafka does not take it
            ingress.replace_config(fresh, event.version)  # its own event, followed back, is then no news
        return _json(
            {"reloaded": True, "version": event.version, "keys": len(fresh.keys), "models": sorted(fresh.models)}
        )

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except TurnoutError as exc:
                info = exc.to_info()
                return _json(openai_error_body(info), info.status)

        return endpoint

    routes = [
        Route("/admin/keys", guarded(keys), methods=["GET"]),
        Route("/admin/kill", guarded(kill), methods=["POST", "DELETE"]),
        Route("/admin/reload", guarded(reload), methods=["POST"]),
    ]
    return Starlette(routes=routes)
