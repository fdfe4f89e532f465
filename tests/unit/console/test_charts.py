"""Server-side SVG charts: parsed back with ElementTree, bar by bar."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from licensing.console.charts import (
    HEIGHT,
    SVG_NAMESPACE,
    daily_bars,
    daily_line,
    fill_days,
    horizontal_bars,
)

NS = {"svg": SVG_NAMESPACE}
HOSTILE = '</title><script>alert("x")</script>&amp;\x00\x1b'
DAYS = [(date(2026, 6, 1), 10), (date(2026, 6, 2), 0), (date(2026, 6, 3), 5)]


def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)  # well-formed, or this raises
    assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
    assert root.get("role") == "img"
    return root


def _titles(elements: list[ET.Element]) -> list[str | None]:
    return [element.findtext("svg:title", namespaces=NS) for element in elements]


def _no_script_no_style(text: str, root: ET.Element) -> None:
    assert root.find(".//svg:script", NS) is None
    assert root.find(".//svg:style", NS) is None
    assert all("style" not in element.attrib for element in root.iter())
    assert all(not name.startswith("on") for element in root.iter() for name in element.attrib)
    assert "<script" not in text


def test_daily_bars_have_one_bar_a_day_in_proportion_with_its_figure_as_title() -> None:
    text = daily_bars(DAYS, label="Check-ins per day", unit="check-ins")
    root = _svg(text)
    assert root.get("aria-label") == "Check-ins per day"
    assert root.findtext("svg:title", namespaces=NS) == "Check-ins per day"
    bars = root.findall("svg:rect[@class='bar']", NS)
    heights = [float(bar.get("height", "")) for bar in bars]
    assert heights[1] == 0
    assert heights[0] == pytest.approx(2 * heights[2])
    assert heights[0] <= HEIGHT
    # Bars stand on one baseline, left to right in day order.
    assert len({float(b.get("y", "")) + float(b.get("height", "")) for b in bars}) == 1
    xs = [float(bar.get("x", "")) for bar in bars]
    assert xs == sorted(xs)
    assert _titles(bars) == [
        "2026-06-01: 10 check-ins",
        "2026-06-02: 0 check-ins",
        "2026-06-03: 5 check-ins",
    ]
    assert all(bar.get("fill") == "currentColor" for bar in bars)
    _no_script_no_style(text, root)


def test_a_daily_line_has_a_point_a_day_on_one_polyline() -> None:
    root = _svg(daily_line(DAYS, label="Active instances per day", unit="instances"))
    (line,) = root.findall("svg:polyline", NS)
    points = [tuple(map(float, pair.split(","))) for pair in line.get("points", "").split()]
    assert len(points) == 3
    circles = root.findall("svg:circle", NS)
    assert [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in circles] == points
    assert points[1][1] > points[2][1] > points[0][1]  # SVG's y grows downwards
    assert _titles(circles)[2] == "2026-06-03: 5 instances"


def test_horizontal_bars_are_labelled_and_in_proportion() -> None:
    text = horizontal_bars(
        [("MIGRATION_OVERSTAY", 4), ("NETWORK_SPREAD", 1)], label="Open cases by rule", unit="cases"
    )
    root = _svg(text)
    bars = root.findall("svg:rect[@class='bar']", NS)
    widths = [float(bar.get("width", "")) for bar in bars]
    assert widths[0] == pytest.approx(4 * widths[1])
    labels = [t.text for t in root.findall("svg:text[@class='label']", NS)]
    assert labels == ["MIGRATION_OVERSTAY", "NETWORK_SPREAD"]
    assert _titles(bars) == ["MIGRATION_OVERSTAY: 4 cases", "NETWORK_SPREAD: 1 cases"]
    _no_script_no_style(text, root)


def test_a_hostile_label_is_escaped_text_not_markup() -> None:
    text = horizontal_bars([(HOSTILE, 2)], label=HOSTILE, unit="cases")
    root = _svg(text)
    _no_script_no_style(text, root)
    assert root.get("aria-label") == '</title><script>alert("x")</script>&amp;'
    (bar,) = root.findall("svg:rect", NS)
    assert _titles([bar]) == ['</title><script>alert("x")</script>&amp;: 2 cases']
    assert "&lt;/title&gt;&lt;script&gt;" in text
    assert "\x00" not in text and "\x1b" not in text
    daily = daily_bars(DAYS, label=HOSTILE, unit=HOSTILE)
    _no_script_no_style(daily, _svg(daily))


def test_empty_and_all_zero_charts_still_render() -> None:
    for empty in (
        daily_bars([], label="Check-ins", unit="check-ins"),
        daily_line([], label="Active", unit="instances"),
        horizontal_bars([], label="Cases", unit="cases"),
    ):
        root = _svg(empty)
        assert "No data yet" in "".join(root.itertext())
    zeros = _svg(daily_bars([(date(2026, 6, 1), 0)], label="Check-ins", unit="check-ins"))
    assert [r.get("height") for r in zeros.findall("svg:rect", NS)] == ["0"]


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        daily_bars([(date(2026, 6, 1), -1)], label="Check-ins", unit="check-ins")


def test_missing_days_are_filled_with_zero() -> None:
    counts = {date(2026, 6, 1): 3, date(2026, 6, 3): 1}
    assert fill_days(counts, date(2026, 6, 1), date(2026, 6, 4)) == [
        (date(2026, 6, 1), 3),
        (date(2026, 6, 2), 0),
        (date(2026, 6, 3), 1),
        (date(2026, 6, 4), 0),
    ]
