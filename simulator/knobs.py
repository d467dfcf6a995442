"""Fault knobs: the model, how they are parsed, and how they are merged.

Knobs come from four layers, lowest precedence first:

1. ``SimulatorConfig.default_knobs``;
2. model-name conventions (``sim-error-429``, ``sim-slow-250``, ``sim-hang``,
   ``sim-broken-stream``; see :func:`knobs_from_model_name`);
3. fault rules installed through ``POST /_sim/faults`` (``*`` rules before
   rules naming the model; see :mod:`simulator.state`);
4. request headers ``x-sim-<knob-name-with-dashes>`` (``x-sim-latency-ms``...).

A knob left as ``None`` does not override a lower layer.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

HEADER_PREFIX = "x-sim-"
BROKEN_STREAM_MODEL_CHUNKS = 3
"""Chunks a ``sim-broken-stream`` model sends before it cuts the connection."""


class KnobError(ValueError):
    """A knob value could not be parsed; ``param`` names where it came from."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class Knobs:
    """Fault-injection and reply-shaping knobs; every field is optional.

    - ``latency_ms``: delay before the response starts; for streams the
      headers go out at once and the first chunk waits.
    - ``chunk_interval_ms``: delay between two stream chunks.
    - ``error_status``: answer this HTTP status with a provider-shaped error.
    - ``retry_after_s``: ``Retry-After`` sent with 429 (default 1) or any error.
    - ``hang``: never answer; wait until the client goes away (capped by
      ``SimulatorConfig.hang_cap_s``, then 504).
    - ``break_after_chunks``: send N chunks, then cut the connection (no
      terminator); a non-streamed body is cut halfway whatever N is.
    - ``error_after_chunks``: send N chunks, then an in-stream error event and
      end (streams only).
    - ``endless``: a stream that never ends: after its first content chunk it repeats that chunk
      (every ``chunk_interval_ms``, 50 ms when unset) until the client goes away.
    - ``reply``: fixed reply text instead of the echo reply.
    - ``tool_arguments``: JSON string used as the tool call's arguments.
    - ``prompt_tokens`` / ``completion_tokens``: usage overrides.
    """

    latency_ms: float | None = None
    chunk_interval_ms: float | None = None
    error_status: int | None = None
    retry_after_s: float | None = None
    hang: bool | None = None
    break_after_chunks: int | None = None
    error_after_chunks: int | None = None
    endless: bool | None = None
    reply: str | None = None
    tool_arguments: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def merged(self, override: Knobs) -> Knobs:
        """Return these knobs with every non-``None`` field of ``override`` applied."""
        changes = {
            f.name: getattr(override, f.name)
            for f in dataclasses.fields(override)
            if getattr(override, f.name) is not None
        }
        return dataclasses.replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, Any]:
        """The knobs that are set, as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], where: str = "knobs") -> Knobs:
        """Build knobs from a JSON object; unknown names and bad values raise KnobError."""
        values: dict[str, object] = {}
        for name, raw in data.items():
            parser = _PARSERS.get(name)
            if parser is None:
                raise KnobError(f"{where}.{name}", f"Unknown knob: {name!r}.")
            if raw is not None:
                values[name] = _parse(parser, raw, f"{where}.{name}")
        return cls(**values)  # type: ignore[arg-type]


def _parse(parser: Callable[[object], object], raw: object, param: str) -> object:
    try:
        return parser(raw)
    except (TypeError, ValueError) as exc:
        raise KnobError(param, f"Invalid value for {param}: {raw!r} ({exc}).") from exc


def _non_negative_float(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TypeError("expected a number")
    value = float(raw)
    if not value >= 0:
        raise ValueError("must be >= 0")
    return value


def _non_negative_int(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError("expected an integer")
    value = int(raw)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def _status(raw: object) -> int:
    value = _non_negative_int(raw)
    if not 400 <= value <= 599:
        raise ValueError("must be an HTTP error status (400-599)")
    return value


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUTHY | _FALSY:
        return raw.strip().lower() in _TRUTHY
    raise ValueError("expected a boolean")


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw


_TRUTHY = frozenset({"1", "true", "yes", "on"})
_FALSY = frozenset({"0", "false", "no", "off", ""})

_PARSERS: Mapping[str, Callable[[object], object]] = MappingProxyType(
    {
        "latency_ms": _non_negative_float,
        "chunk_interval_ms": _non_negative_float,
        "error_status": _status,
        "retry_after_s": _non_negative_float,
        "hang": _flag,
        "break_after_chunks": _non_negative_int,
        "error_after_chunks": _non_negative_int,
        "endless": _flag,
        "reply": _text,
        "tool_arguments": _text,
        "prompt_tokens": _non_negative_int,
        "completion_tokens": _non_negative_int,
    }
)

KNOB_NAMES: tuple[str, ...] = tuple(_PARSERS)
KNOB_HEADERS: Mapping[str, str] = MappingProxyType(
    {HEADER_PREFIX + name.replace("_", "-"): name for name in KNOB_NAMES}
)
"""Request header name (lower case) -> knob name."""


def knobs_from_headers(headers: Mapping[str, str]) -> Knobs:
    """Read ``x-sim-*`` headers (``headers`` must have lower-case keys or be case-insensitive)."""
    values: dict[str, object] = {}
    for header, name in KNOB_HEADERS.items():
        raw = headers.get(header)
        if raw is not None:
            values[name] = _parse(_PARSERS[name], raw, header)
    return Knobs(**values) if values else _NO_KNOBS  # type: ignore[arg-type]


_NO_KNOBS = Knobs()
_ERROR_MODEL = re.compile(r"sim-error-(\d{3})")
_SLOW_MODEL = re.compile(r"sim-slow-(\d+(?:\.\d+)?)")


def knobs_from_model_name(model: str) -> Knobs:
    """Knobs implied by a conventional model name; empty knobs for any other name.

    ``sim-error-<status>`` answers that status, ``sim-slow-<ms>`` waits that long
    before answering, ``sim-hang`` never answers and ``sim-broken-stream`` cuts
    streams after :data:`BROKEN_STREAM_MODEL_CHUNKS` chunks (and non-streamed
    bodies halfway).
    """
    if not model.startswith("sim-"):
        return _NO_KNOBS
    if model == "sim-hang":
        return Knobs(hang=True)
    if model == "sim-broken-stream":
        return Knobs(break_after_chunks=BROKEN_STREAM_MODEL_CHUNKS)
    match = _ERROR_MODEL.fullmatch(model)
    if match and 400 <= int(match.group(1)) <= 599:
        return Knobs(error_status=int(match.group(1)))
    match = _SLOW_MODEL.fullmatch(model)
    if match:
        return Knobs(latency_ms=float(match.group(1)))
    return _NO_KNOBS
