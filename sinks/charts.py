"""Charts as inline SVG, drawn on the server: no JavaScript and nothing fetched, so a page renders the
same in any browser, in a screenshot and in an email.

:func:`line_chart` draws time series (one line per series, a shared time axis, a legend);
:func:`bar_chart` horizontal bars with their values. Both escape every label, and both say so when
there is nothing to draw rather than drawing an empty frame.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

__all__ = ["PALETTE", "bar_chart", "format_value", "line_chart"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
_FONT = "font-family:system-ui,sans-serif;font-size:11px"


def format_value(value: float, unit: str = "") -> str:
    if unit == "$":
        return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"
    if unit == "%":
        return f"{value * 100:.1f}%"
    if abs(value) >= 1000:
        return f"{value:,.0f}{unit}"
    return f"{value:.3g}{unit}"


def _empty(width: int, height: int, what: str) -> str:
    return (
        f'<svg class="chart empty" width="{width}" height="{height}" role="img" aria-label="no data">'
        f'<rect width="{width}" height="{height}" fill="#f9fafb" stroke="#e5e7eb"/>'
        f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" style="{_FONT};fill:#6b7280">'
        f"No {html.escape(what)} in this range</text></svg>"
    )


def line_chart(
    series: Mapping[str, Sequence[tuple[datetime, float]]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    height: int = 220,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """One line per series over time; ``unit`` formats the axis ($, %, ms, or nothing); the time axis
    runs from ``start`` to ``end`` when given (a dashboard's range), else over the points."""
    points = [p for values in series.values() for p in values]
    if not points:
        return _empty(width, height, title.lower())
    left, right, top, bottom = 64, 12, 12, 40 + 14 * ((len(series) + 3) // 4)
    plot_w, plot_h = width - left - right, height - top - bottom
    if plot_h < 40:
        height, plot_h = height + (40 - plot_h), 40
    t_min = (start or min(t for t, _ in points)).timestamp()
    t_max = (end or max(t for t, _ in points)).timestamp()
    v_max = max(max(v for _, v in points), 0.0) or 1.0
    span = (t_max - t_min) or 1.0

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t_min) / span * plot_w

    def y(v: float) -> float:
        return top + plot_h - v / v_max * plot_h

    out = [
        f'<svg class="chart line" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#e5e7eb"/>',
    ]
    for i in range(5):  # horizontal grid and the value axis
        value = v_max * i / 4
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#f3f4f6"/>')
        out.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" style="{_FONT};fill:#374151">'
            f"{html.escape(format_value(value, unit))}</text>"
        )
    ticks = sorted({t_min, (t_min + t_max) / 2, t_max})
    for i, tick in enumerate(ticks):  # the time axis: start, middle, end
        label = datetime.fromtimestamp(tick, tz=UTC).strftime("%m-%d %H:%M")
        px = left + (tick - t_min) / span * plot_w
        anchor = "middle" if len(ticks) == 1 else ("start", "middle", "end")[min(2, i * 2 // max(1, len(ticks) - 1))]
        out.append(
            f'<text x="{px:.1f}" y="{top + plot_h + 14}" text-anchor="{anchor}" style="{_FONT};fill:#374151">'
            f"{label}</text>"
        )
    for n, (name, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        ordered = sorted(values)
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in ordered)
        out.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        if len(ordered) == 1:
            (at, v) = ordered[0]
            out.append(f'<circle cx="{x(at):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
        lx, ly = left + (n % 4) * (plot_w / 4), top + plot_h + 30 + 14 * (n // 4)
        out.append(f'<rect x="{lx:.1f}" y="{ly - 8}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{lx + 14:.1f}" y="{ly + 1}" style="{_FONT};fill:#111827">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: str = "",
    width: int = 640,
    limit: float | None = None,
) -> str:
    """Horizontal bars, largest first as given; with ``limit``, bars are shares of it (budgets)."""
    if not items:
        return _empty(width, 80, title.lower())
    row, label_w, value_w = 22, 180, 90
    height = row * len(items) + 8
    top_value = limit if limit is not None else max(max(v for _, v in items), 0.0) or 1.0
    bar_w = width - label_w - value_w
    out = [f'<svg class="chart bar" width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row
        share = max(0.0, value) / top_value if top_value else 0.0
        color = (
            "#dc2626" if limit is not None and share >= 1 else PALETTE[0] if limit is None or share < 0.8 else "#d97706"
        )
        short = label if len(label) <= 28 else label[:27] + "…"
        out.append(
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" style="{_FONT};fill:#111827">'
            f"{html.escape(short)}</text>"
        )
        if limit is not None:
            out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row - 8}" fill="#f3f4f6"/>')
        out.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{min(1.0, share) * bar_w:.1f}" '
            f'height="{row - 8}" fill="{color}"/>'
        )
        shown = format_value(value, unit) + (f" ({share * 100:.0f}%)" if limit is not None else "")
        out.append(
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}" style="{_FONT};fill:#374151">{html.escape(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)
