"""The cache's HTTP face: the controls a caller sends in headers, and the headers a reply carries.

Request headers (all optional; a bad value is a 400 naming the header):

=============================== ===================================================================
``Cache-Control: no-cache``     do not answer from the cache; the fresh answer is stored
``Cache-Control: no-store``     do not store this answer
``Cache-Control: max-age=N``    only an entry at most N seconds old may answer
``x-turnout-cache``             ``on`` (the default), ``off`` (neither look up nor store),
                                ``refresh`` (as ``no-cache``), ``no-store``
``x-turnout-cache-threshold``   the semantic similarity needed, in (0, 1], instead of the route's
``x-turnout-cache-namespace``   look up and store in this namespace instead of the route's
``x-turnout-cache-ttl``         keep this answer N seconds (at most the route's TTL)
=============================== ===================================================================

Reply headers, on JSON replies and on streams answered from the cache: ``x-turnout-cache`` (``hit``,
``miss``, ``bypass`` or ``skip``); for a hit ``x-turnout-cache-kind`` (``exact`` or ``semantic``),
``x-turnout-cache-similarity``, ``x-turnout-cache-entry`` and ``age``; for a miss or skip, the best
candidate's similarity and ``x-turnout-cache-reason`` when there is one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from schemas.errors import InvalidRequest
from schemas.events import CacheControl, CacheVerdict

__all__ = ["cache_control_from_headers", "cache_reply_headers"]

_NAMESPACE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_MODES = {"on": (True, True), "off": (False, False), "refresh": (False, True), "no-store": (True, False)}


def _bad(header: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"Header {header}: {why}.", param=header)


def _seconds(header: str, raw: str, minimum: int) -> int:
    if not raw.strip().isdigit() or int(raw) < minimum:
        raise _bad(header, f"expected a whole number of seconds >= {minimum}, got {raw!r}")
    return int(raw)


def cache_control_from_headers(headers: Mapping[str, str]) -> CacheControl | None:
    """The caller's controls, or ``None`` when the request sets none."""
    lookup, store = True, True
    max_age_s: int | None = None
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().lower().partition("=")
        if name == "no-cache":
            lookup = False
        elif name == "no-store":
            store = False
        elif name == "max-age":
            max_age_s = _seconds("cache-control", value.strip('"'), 0)
    mode = headers.get("x-turnout-cache")
    if mode is not None:
        if mode.strip().lower() not in _MODES:
            raise _bad("x-turnout-cache", f"expected one of {', '.join(_MODES)}, got {mode!r}")
        wants_lookup, wants_store = _MODES[mode.strip().lower()]
        lookup, store = lookup and wants_lookup, store and wants_store
    threshold: float | None = None
    if (raw := headers.get("x-turnout-cache-threshold")) is not None:
        try:
            threshold = float(raw)
        except ValueError:
            threshold = math.nan
        if not 0 < threshold <= 1:
            raise _bad("x-turnout-cache-threshold", f"expected a number in (0, 1], got {raw!r}")
    namespace = headers.get("x-turnout-cache-namespace")
    if namespace is not None and not _NAMESPACE.match(namespace):
        raise _bad("x-turnout-cache-namespace", "expected 1 to 64 of A-Z a-z 0-9 _ . : -")
    ttl = headers.get("x-turnout-cache-ttl")
    ttl_s = _seconds("x-turnout-cache-ttl", ttl, 1) if ttl is not None else None
    control = CacheControl(lookup, store, max_age_s, threshold, namespace, ttl_s)
    return None if control == CacheControl() else control


def cache_reply_headers(verdict: CacheVerdict | None) -> dict[str, str]:
    if verdict is None:
        return {}
    headers = {"x-turnout-cache": verdict.status}
    if verdict.status == "hit":
        headers["x-turnout-cache-kind"] = verdict.kind or ""
        headers["x-turnout-cache-entry"] = verdict.entry or ""
        headers["age"] = str(int(verdict.age_s or 0))
    elif verdict.reason:
        headers["x-turnout-cache-reason"] = verdict.reason
    if verdict.similarity is not None:
        headers["x-turnout-cache-similarity"] = f"{verdict.similarity:.4f}"
    return headers
