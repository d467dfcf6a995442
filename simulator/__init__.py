"""Turnout provider simulator: a real HTTP server speaking LLM provider wire formats.

Start one with :func:`serve` (foreground), :func:`start_in_thread` (tests,
benchmarks) or ``python -m simulator``; build the ASGI app with :func:`build_app`.
Faults are driven by :class:`Knobs`, set per request (``x-sim-*`` headers), by
model name (``sim-error-429``, ``sim-slow-250``, ``sim-hang``,
``sim-broken-stream``) or by rules installed with ``POST /_sim/faults``.
"""

from simulator.app import build_app
from simulator.knobs import KnobError, Knobs, knobs_from_headers, knobs_from_model_name
from simulator.server import RunningSimulator, main, serve, start_in_thread
from simulator.state import SimulatorConfig

__all__ = [
    "KnobError",
    "Knobs",
    "RunningSimulator",
    "SimulatorConfig",
    "build_app",
    "knobs_from_headers",
    "knobs_from_model_name",
    "main",
    "serve",
    "start_in_thread",
]
