"""The dashboards' SVG charts and filters, without a database."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sinks.charts import bar_chart, format_value, line_chart
from sinks.dashboards import Filters

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_a_line_per_series_with_escaped_names() -> None:
    series = {"<smart> & co": [(T0, 1.0), (T0 + timedelta(minutes=5), 3.0)], "cheap": [(T0, 2.0)]}
    root = _parse(line_chart(series, title="spend", unit="$"))
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    assert len(lines[0].get("points", "").split()) == 2
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<smart> & co" in texts and "$3.00" in texts  # the axis reaches the largest value
    assert root.findall(f"{SVG}circle")  # a one-point series is drawn as a dot


def test_the_time_axis_can_span_a_whole_range() -> None:
    svg = line_chart({"a": [(T0, 1.0)]}, title="t", start=T0 - timedelta(hours=1), end=T0)
    texts = [t.text for t in _parse(svg).iter(f"{SVG}text")]
    assert "12-01 11:00" in texts and "12-01 12:00" in texts


def test_bars_and_budget_shares() -> None:
    root = _parse(bar_chart([("search", 0.5), ("chat", 0.25)], title="spend", unit="$"))
    bars = root.findall(f"{SVG}rect[@class='bar']")
    assert float(bars[0].get("width", 0)) > float(bars[1].get("width", 0)) > 0
    budget = _parse(bar_chart([("daily · ann", 1.2), ("daily · bob", 0.5)], title="b", unit="%", limit=1.0))
    fills = [b.get("fill") for b in budget.findall(f"{SVG}rect[@class='bar']")]
    assert fills == ["#dc2626", "#2563eb"]  # over the budget in red
    texts = [t.text for t in budget.iter(f"{SVG}text")]
    assert "120.0% (120%)" in texts


def test_nothing_to_draw_says_so() -> None:
    assert "No spend in this range" in line_chart({}, title="Spend")
    assert "No errors in this range" in bar_chart([], title="errors")


def test_format_value() -> None:
    assert (format_value(0.00042, "$"), format_value(12.5, "$"), format_value(0.25, "%")) == (
        "$0.0004",
        "$12.50",
        "25.0%",
    )
    assert (format_value(1234.0), format_value(3.14159, " ms")) == ("1,234", "3.14 ms")


def test_filters_take_only_known_ranges_and_plain_values() -> None:
    f = Filters.from_query({"range": ["7d"], "tenant": ["acme"], "model": ["smart-chat"]})
    assert (f.range, f.seconds, f.tenant, f.model) == ("7d", 7 * 86_400, "acme", "smart-chat")
    assert "tenant = 'acme'" in f.where("at") and "logical_model = 'smart-chat'" in f.where("at")
    hostile = Filters.from_query({"range": ["1y"], "tenant": ["x' OR 1=1 --"]})
    assert (hostile.range, hostile.tenant) == ("24h", "")
    assert "'" not in hostile.where("at")
