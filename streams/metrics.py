"""A process's counters, served in Prometheus' text exposition format.

A worker creates one ``Metrics`` and passes it to what counts (the limiter, the budget book, the
pipeline); with ``topology.web_port`` set, the worker serves them at ``GET /metrics`` on loopback.
"""

from __future__ import annotations

__all__ = ["Metrics"]

_HELP = {
    "turnout_redis_unavailable_total": "Admission checks that found Redis unreachable, by part.",
    "turnout_admission_refused_total": "Requests refused at admission, by reason (kill_switch, rate_limit, budget).",
    "turnout_budget_downgrades_total": "Requests served by the cheaper model past a budget's downgrade mark.",
    "turnout_budget_alerts_total": "Budget thresholds reached, by budget.",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Monotonic counters by name and labels."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        return self._values.get((name, tuple(sorted(labels.items()))), 0.0)

    def render(self) -> str:
        """Every counter, grouped by name with its HELP and TYPE lines."""
        lines: list[str] = []
        names = sorted({name for name, _ in self._values})
        for name in names:
            lines.append(f"# HELP {name} {_HELP.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            for (n, labels), value in sorted(self._values.items()):
                if n != name:
                    continue
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{label_text}}} {value:g}" if labels else f"{name} {value:g}")
        return "\n".join(lines) + "\n"
