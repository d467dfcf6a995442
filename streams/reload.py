"""Taking up a reloaded config without a restart.

``POST /admin/reload`` checks the file, swaps the gateway's config, and publishes what it accepted as
a ``ConfigEvent`` on the compacted ``<prefix>.config`` topic. Every worker follows that topic (and
every other gateway: ``ingress.app.Ingress.take_up`` swaps its config and keys). A worker
parses the config again and takes it up unless it changes something only a restart can change
(:func:`needs_restart`): then it keeps the running one and says so in its log. Taking it up builds a
new request path (routes, deployments and prices, providers, guardrails, limits, cache settings)
and swaps it into every agent at once, with no await between: a stage already running finishes on the
old path, the next stage call takes the new one.

What a reload can change: ``models``, ``deployments``, ``providers``, ``limits``, ``keys`` and the
gateway's timeouts and body limit. What needs a restart (the admin API refuses a reload that changes
it): the sections below, a budget rule (the ledger's tables are built from them), and turning the
response cache on or off, or semantic where no route was.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from schemas.config import ConfigError, TurnoutConfig, parse_config
from schemas.events import ConfigEvent
from streams.invoker import now_us

__all__ = [
    "RESTART_ONLY",
    "ConfigReloader",
    "cache_shape",
    "config_event",
    "config_of",
    "config_version",
    "needs_restart",
    "newer_config",
]

log = logging.getLogger(__name__)

RESTART_ONLY = ("kafka", "redis", "clickhouse", "sink", "topology", "breakers", "budgets", "cache")
GATEWAY_RESTART_ONLY = ("host", "port", "instance_id", "admin_port", "admin_token_sha256", "admin_token_env")


def _dump(config: TurnoutConfig) -> bytes:
    return orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


def config_version(config: TurnoutConfig) -> str:
    return hashlib.sha256(_dump(config)).hexdigest()[:16]


def cache_shape(config: TurnoutConfig) -> str:
    """What response cache a worker builds for ``config``: none, exact only, or semantic too."""
    modes = {m.cache.mode for m in config.models.values()}
    return "semantic" if "semantic" in modes else "exact" if "exact" in modes else "none"


def needs_restart(running: TurnoutConfig, candidate: TurnoutConfig, ignore: tuple[str, ...] = ()) -> list[str]:
    """What ``candidate`` changes that a running process cannot take up; empty when it can reload."""
    changed = [
        name for name in RESTART_ONLY if name not in ignore and getattr(running, name) != getattr(candidate, name)
    ]
    changed += [
        f"gateway.{name}"
        for name in GATEWAY_RESTART_ONLY
        if getattr(running.gateway, name) != getattr(candidate.gateway, name)
    ]
    if cache_shape(running) != cache_shape(candidate):
        changed.append(f"the response cache ({cache_shape(running)} -> {cache_shape(candidate)})")
    return changed


def config_event(config: TurnoutConfig, published_at_us: int, source: str = "") -> ConfigEvent:
    return ConfigEvent(
        version=config_version(config),
        published_at_us=published_at_us,
        config_json=_dump(config).decode(),
        source=source,
    )


def config_of(event: ConfigEvent) -> TurnoutConfig:
    """The config an event carries; ``ConfigError`` if it does not parse (a newer writer, a bad edit)."""
    try:
        data: Any = orjson.loads(event.config_json)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"config {event.version}: not JSON ({exc})") from None
    return parse_config(data, source=f"config event {event.version}")


def newer_config(event: ConfigEvent, version: str, read_at_us: int) -> TurnoutConfig | None:
    """The config ``event`` carries, when it is news to a process running ``version`` since it read
    its file at ``read_at_us``; ``None`` for the same version or an older event. ``ConfigError`` if
    it does not parse."""
    if event.version == version or event.published_at_us < read_at_us:
        return None
    return config_of(event)


class ConfigReloader:
    """One worker's side: follows the config topic and swaps a new request path into its agents."""

    def __init__(
        self,
        config: TurnoutConfig,
        build: Callable[[TurnoutConfig], Any],
        handlers: Sequence[Any],
        cache: Any | None,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.config = config
        self.version = config_version(config)
        self.read_at_us = clock()  # a config published before this worker read its file is older than it
        self._build = build
        self._handlers = handlers
        self._cache = cache

    def apply(self, event: Any) -> bool:
        """Take up ``event``'s config if it is newer and can be; whether it was taken up."""
        if not isinstance(event, ConfigEvent):
            return False
        try:
            fresh = newer_config(event, self.version, self.read_at_us)
        except ConfigError as exc:
            log.error("config %s does not parse; keeping %s: %s", event.version, self.version, exc)
            return False
        if fresh is None:
            return False
        # the topology is the worker's own: its flags (--web-port, --layout) override the file's, and
        # the admin API has refused a file that changes it
        blocked = needs_restart(self.config, fresh, ignore=("topology",))
        fresh = fresh.model_copy(update={"topology": self.config.topology})
        if blocked:
            log.error("config %s changes %s: restart to take it up; keeping %s", event.version, blocked, self.version)
            return False
        try:
            pipeline = self._build(fresh)
        except Exception:
            log.exception("config %s could not be built; keeping %s", event.version, self.version)
            return False
        # no await from here on: every agent takes the new path at once
        if self._cache is not None:
            self._cache.use_config(fresh)
        for handler in self._handlers:
            handler.use(pipeline)
        log.info("took up config %s (was %s) from %s", event.version, self.version, event.source or "the admin API")
        self.config, self.version = fresh, event.version
        return True
