"""What is sent: the ~2 KB chat request, and the catalogue of targets the load generator reads.

A target is one system (``direct``, ``turnout-split``, ``turnout-fused``, ``litellm-w<N>``) at one
upstream delay, streaming or not. Every system reaches the same simulator; the delay comes from the
upstream model name (``sim-slow-<ms>``), because gateways do not forward the simulator's
``x-sim-*`` headers. Direct calls name that model; the gateways name a logical model
``bench-<ms>ms`` that their config maps to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BODY_BYTES",
    "System",
    "chat_body",
    "gateway_model",
    "target_id",
    "upstream_model",
    "write_targets",
]

BODY_BYTES = 2048
"""Size of the non-streaming request body sent directly to the simulator (the others differ by a
few bytes: the model name and ``"stream": true``)."""

_SYSTEM_PROMPT = (
    "You are a support assistant for an online hardware store. Answer in plain English, in at most "
    "three short paragraphs. If the question is about an order, ask for the order number. Never "
    "invent prices or stock levels; say you will check instead. "
)
_QUESTION = (
    "I ordered a cordless drill last week and the battery that came with it does not hold a charge "
    "for more than ten minutes. The charger light turns green after an hour. Is this covered by the "
    "warranty, and can I get a replacement battery sent before I return the old one? "
)


def upstream_model(delay_ms: int) -> str:
    """The simulator's model name that delays the reply by ``delay_ms``."""
    return f"sim-slow-{delay_ms}"


def gateway_model(delay_ms: int) -> str:
    """The logical model name the gateways map to :func:`upstream_model`."""
    return f"bench-{delay_ms}ms"


def chat_body(model: str, stream: bool, size: int = BODY_BYTES) -> dict[str, Any]:
    """A chat request whose JSON is ``size`` bytes for ``model="sim-slow-0"``, ``stream=False``.

    The padding is computed against that reference, so every target's body carries the same
    messages whatever its model name.
    """
    reference = _body("sim-slow-0", False, "")
    filler_len = max(0, size - len(json.dumps(reference)))
    filler = ("Earlier in this conversation: " + _QUESTION * 20)[:filler_len]
    return _body(model, stream, filler)


def _body(model: str, stream: bool, filler: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": _SYSTEM_PROMPT + filler},
            {"role": "user", "content": _QUESTION},
        ],
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
    return body


@dataclass(frozen=True, slots=True)
class System:
    """A system under test: where it listens and how a client authenticates to it."""

    name: str
    base_url: str
    api_key: str
    direct: bool = False

    def model(self, delay_ms: int) -> str:
        return upstream_model(delay_ms) if self.direct else gateway_model(delay_ms)


def target_id(system: str, delay_ms: int, stream: bool) -> str:
    return f"{system}@{delay_ms}ms" + ("/stream" if stream else "")


def write_targets(
    path: Path,
    systems: list[System],
    delays_ms: tuple[int, ...],
    extra: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Write the load generator's catalogue: every system at every delay, streaming and not, and ``extra``."""
    catalogue: dict[str, dict[str, Any]] = {}
    for system in systems:
        for delay in delays_ms:
            for stream in (False, True):
                catalogue[target_id(system.name, delay, stream)] = {
                    "url": f"{system.base_url.rstrip('/')}/chat/completions",
                    "headers": {"Authorization": f"Bearer {system.api_key}"},
                    "body": json.dumps(chat_body(system.model(delay), stream)),
                    "stream": stream,
                }
    catalogue.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(catalogue, indent=1))
    return catalogue
