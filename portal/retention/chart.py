"""The report's chart: one bar per month, saved at the bottom and cancelled on top, as
geometry in SVG units that the template only draws (like the team totals chart)."""

from __future__ import annotations

from portal import formatting
from portal.retention.report import MonthRow

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 640, 260, 20, 48, 40
BANDS = [("Saved", lambda row: row.total_saved), ("Cancelled", lambda row: row.cancelled)]


def saves_chart(rows: list[MonthRow]) -> dict:
    """Bars of answers per month split into saved and cancelled, and three ticks (0, half and
    the busiest month)."""
    busiest = max((row.total for row in rows), default=0)
    biggest = max(2, busiest + busiest % 2)  # even, so that the half-way tick is a whole number
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / max(len(rows), 1)
    bars = []
    for index, row in enumerate(rows):
        x = LEFT + index * slot + slot * 0.2
        y = HEIGHT - BOTTOM
        segments = []
        for band, (label, value_of) in enumerate(BANDS):
            value = value_of(row)
            h = value / biggest * plot
            y -= h
            if h > 0:
                segments.append({"y": round(y, 1), "h": round(h, 1), "band": band + 1,
                                 "label": label, "value": value})
        name, year = formatting.day(row.month, "month_short").rsplit(" ", 1)
        bars.append({"x": round(x, 1), "w": round(slot * 0.6, 1), "segments": segments,
                     "label": name, "year": year if index == 0 or row.month.month == 1 else "",
                     "title": formatting.day(row.month, "month"), "total": row.total,
                     "saved": row.total_saved, "label_x": round(x + slot * 0.3, 1),
                     "total_y": round(y - 5, 1)})
    ticks = [{"y": round(HEIGHT - BOTTOM - plot * f, 1), "value": biggest * n // 2} for f, n in ((0, 0), (0.5, 1), (1, 2))]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "axis_y": HEIGHT - BOTTOM,
            "bars": bars, "ticks": ticks, "bands": [b[0] for b in BANDS]}
