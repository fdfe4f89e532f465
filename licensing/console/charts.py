"""Charts for the console, drawn on the server as inline SVG: readable with no script.

Each chart is one ``<svg role="img" aria-label=...>`` with a ``<title>`` of its own and
one per bar or point, so the figures show as tooltips and reach a screen reader. The
SVG is built with ElementTree, which escapes every label; characters XML cannot carry
are dropped. Colours are presentation attributes (``fill``, ``stroke``) and
``currentColor``, never a ``style`` attribute: the console's CSP (``style-src 'self'``)
forbids inline styles but not presentation attributes. Classes let the console's own
stylesheet restyle them.

The result is well-formed SVG text; a view marks it safe (``Markup``) to embed it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
WIDTH = 600
HEIGHT = 160
_TOP, _BOTTOM, _LEFT, _RIGHT = 12.0, 22.0, 44.0, 8.0
_BAR_SHARE = 0.8  # of a day's slot: the rest is the gap between bars
_ROW = 22.0  # one horizontal bar's row
_LABEL_WIDTH = 180.0
_LABEL_CHARACTERS = 26
# Characters XML 1.0 cannot carry at all (ElementTree would write them unescaped).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

DailySeries = Sequence[tuple[date, int]]


def fill_days(counts: Mapping[date, int], first: date, last: date) -> list[tuple[date, int]]:
    """Every day from ``first`` to ``last``, a day without a count as 0 (a gap shows)."""
    return [
        (first + timedelta(days=n), counts.get(first + timedelta(days=n), 0))
        for n in range((last - first).days + 1)
    ]


def daily_bars(series: DailySeries, *, label: str, unit: str) -> str:
    """One bar per day (check-ins per day): ``unit`` names what is counted."""
    root, plot = _daily_frame(series, label=label, kind="daily-bars")
    if plot is not None:
        top, slot, scale = plot
        for index, (day, value) in enumerate(series):
            height = value * scale
            bar = _sub(
                root,
                "rect",
                {
                    "class": "bar",
                    "x": _LEFT + index * slot + slot * (1 - _BAR_SHARE) / 2,
                    "y": _TOP + top - height,
                    "width": slot * _BAR_SHARE,
                    "height": height,
                    "fill": "currentColor",
                },
            )
            _title(bar, f"{day.isoformat()}: {value} {unit}")
    return _text_of(root)


def daily_line(series: DailySeries, *, label: str, unit: str) -> str:
    """A line through each day's value (active instances per day), a point per day."""
    root, plot = _daily_frame(series, label=label, kind="daily-line")
    if plot is not None:
        top, slot, scale = plot
        points = [
            (_LEFT + index * slot + slot / 2, _TOP + top - value * scale, day, value)
            for index, (day, value) in enumerate(series)
        ]
        line = " ".join(f"{_number(x)},{_number(y)}" for x, y, _, _ in points)
        _sub(
            root,
            "polyline",
            {"class": "line", "points": line, "fill": "none", "stroke": "currentColor"},
        )
        for x, y, day, value in points:
            point = _sub(
                root, "circle", {"class": "point", "cx": x, "cy": y, "r": 3, "fill": "currentColor"}
            )
            _title(point, f"{day.isoformat()}: {value} {unit}")
    return _text_of(root)


def horizontal_bars(items: Sequence[tuple[str, int]], *, label: str, unit: str) -> str:
    """One labelled bar per item (open cases by rule or severity), in the order given."""
    height = _TOP + max(len(items), 1) * _ROW + _TOP
    root = _svg(label, kind="horizontal-bars", height=height)
    if not items:
        _empty(root, height)
        return _text_of(root)
    _check_counts(value for _, value in items)
    largest = max(value for _, value in items)
    room = WIDTH - _LABEL_WIDTH - _RIGHT - 48  # 48: the figure after the longest bar
    scale = room / largest if largest else 0.0
    for index, (name, value) in enumerate(items):
        y = _TOP + index * _ROW
        text = _sub(
            root,
            "text",
            {"class": "label", "x": _LABEL_WIDTH - 8, "y": y + 15, "text-anchor": "end"},
        )
        text.text = _shortened(_clean(name))
        bar = _sub(
            root,
            "rect",
            {
                "class": "bar",
                "x": _LABEL_WIDTH,
                "y": y + 3,
                "width": value * scale,
                "height": _ROW - 6,
                "fill": "currentColor",
            },
        )
        _title(bar, f"{name}: {value} {unit}")
        figure = _sub(
            root, "text", {"class": "value", "x": _LABEL_WIDTH + value * scale + 4, "y": y + 15}
        )
        figure.text = str(value)
    return _text_of(root)


def _daily_frame(
    series: DailySeries, *, label: str, kind: str
) -> tuple[ET.Element, tuple[float, float, float] | None]:
    """The chart's frame (axis, first and last day, the largest value) and its scale:
    (plot height, slot per day, pixels per unit), or None for an empty series."""
    root = _svg(label, kind=kind, height=HEIGHT)
    if not series:
        _empty(root, HEIGHT)
        return root, None
    _check_counts(value for _, value in series)
    plot_height = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT - _RIGHT) / len(series)
    largest = max(value for _, value in series)
    scale = plot_height / largest if largest else 0.0
    baseline = _TOP + plot_height
    _sub(
        root,
        "line",
        {"class": "axis", "x1": _LEFT, "y1": baseline, "x2": WIDTH - _RIGHT, "y2": baseline},
    ).set("stroke", "currentColor")
    _axis_text(root, str(largest), x=_LEFT - 6, y=_TOP + 4, anchor="end")
    _axis_text(root, "0", x=_LEFT - 6, y=baseline, anchor="end")
    _axis_text(root, series[0][0].isoformat(), x=_LEFT, y=HEIGHT - 6, anchor="start")
    if len(series) > 1:
        _axis_text(root, series[-1][0].isoformat(), x=WIDTH - _RIGHT, y=HEIGHT - 6, anchor="end")
    return root, (plot_height, slot, scale)


def _svg(label: str, *, kind: str, height: float) -> ET.Element:
    root = ET.Element(
        "svg",
        {
            "xmlns": SVG_NAMESPACE,
            "class": f"chart chart-{kind}",
            "viewBox": f"0 0 {WIDTH} {_number(height)}",
            "width": str(WIDTH),
            "height": _number(height),
            "role": "img",
            "aria-label": _clean(label),
        },
    )
    _title(root, label)
    return root


def _empty(root: ET.Element, height: float) -> None:
    _axis_text(root, "No data yet", x=WIDTH / 2, y=height / 2, anchor="middle")


def _axis_text(root: ET.Element, text: str, *, x: float, y: float, anchor: str) -> None:
    element = _sub(root, "text", {"class": "axis-label", "x": x, "y": y, "text-anchor": anchor})
    element.text = text


def _title(parent: ET.Element, text: str) -> None:
    ET.SubElement(parent, "title").text = _clean(text)


def _sub(parent: ET.Element, tag: str, attributes: Mapping[str, float | str]) -> ET.Element:
    return ET.SubElement(
        parent,
        tag,
        {name: _number(v) if isinstance(v, float | int) else v for name, v in attributes.items()},
    )


def _check_counts(values: Iterable[int]) -> None:
    if any(value < 0 for value in values):
        raise ValueError("a chart counts things: a value below 0 is a bug upstream")


def _number(value: float) -> str:
    """Two decimals at most, no trailing zeros: short, stable SVG text."""
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _shortened(text: str) -> str:
    if len(text) <= _LABEL_CHARACTERS:
        return text
    return text[: _LABEL_CHARACTERS - 1] + "…"


def _text_of(root: ET.Element) -> str:
    return ET.tostring(root, encoding="unicode")
