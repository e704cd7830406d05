"""The report card's chart of the last periods: one bar per period (GV for an IBO, PV for a
member) with the PV drawn inside it, as geometry in SVG units that the template only draws, like
the team totals' chart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portal import formatting

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 600, 240, 20, 40, 70


def history_chart(history: list[tuple[date, Decimal, Decimal, str | None]], *, rank_names: dict[str, str],
                  group: bool) -> dict:
    """``history``: (period, PV, GV, rank code) oldest first. ``group``: draw GV bars (an IBO);
    else PV alone (a member)."""
    biggest = max(((gv if group else pv) for _p, pv, gv, _r in history), default=0) or 1
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / max(len(history), 1)
    bars = []
    for index, (period, pv, gv, rank) in enumerate(history):
        x = LEFT + index * slot + slot * 0.15
        total = gv if group else pv
        h_total = float(total) / float(biggest) * plot
        h_pv = float(pv) / float(biggest) * plot
        label = period.strftime("%b")  # the year is written under January and the first bar
        bars.append({"x": round(x, 1), "w": round(slot * 0.7, 1), "label": label,
                     "y": round(HEIGHT - BOTTOM - h_total, 1), "h": round(h_total, 1),
                     "pv_y": round(HEIGHT - BOTTOM - h_pv, 1), "pv_h": round(h_pv, 1),
                     "pv": pv, "gv": gv, "rank": rank_names.get(rank or "", ""),
                     "label_x": round(x + slot * 0.35, 1), "name": formatting.day(period, "month_short"),
                     "year": period.year if index == 0 or period.month == 1 else None})
    ticks = [{"y": round(HEIGHT - BOTTOM - plot * f, 1), "value": float(biggest) * f}
             for f in (0, 0.5, 1)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "axis_y": HEIGHT - BOTTOM,
            "bars": bars, "ticks": ticks, "group": group}
