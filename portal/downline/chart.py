"""The totals page's stacked bar chart (levels 1, 2, 3 and 4+ per month), as geometry in SVG
units that the template only draws: no arithmetic is left to the template."""

from __future__ import annotations

from portal import formatting
from portal.downline.totals import TeamTotals

WIDTH, HEIGHT, TOP, BOTTOM, LEFT = 480, 240, 20, 40, 70
BANDS = [("Level 1", lambda lvl: lvl == 1), ("Level 2", lambda lvl: lvl == 2),
         ("Level 3", lambda lvl: lvl == 3), ("Level 4+", lambda lvl: lvl >= 4)]


def bar_chart(summary: TeamTotals) -> dict:
    """One bar per month, a segment per level band with PV in it, and three ticks (0, half and
    the biggest month)."""
    biggest = max((month.pv for month in summary.months), default=0) or 1
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / max(len(summary.months), 1)
    bars = []
    for index, month in enumerate(summary.months):
        x = LEFT + index * slot + slot * 0.2
        y = HEIGHT - BOTTOM
        segments = []
        for band, (label, keep) in enumerate(BANDS):
            value = sum((pv for lvl, pv in month.pv_by_level.items() if keep(lvl)), start=0)
            h = float(value) / float(biggest) * plot
            y -= h
            if h > 0:
                segments.append({"y": round(y, 1), "h": round(h, 1), "band": band + 1,
                                 "label": label, "value": value})
        bars.append({"x": round(x, 1), "w": round(slot * 0.6, 1), "segments": segments,
                     "label": formatting.day(month.month, "month_short"), "total": month.pv,
                     "label_x": round(x + slot * 0.3, 1), "total_y": round(y - 5, 1)})
    ticks = [{"y": round(HEIGHT - BOTTOM - plot * f, 1), "value": float(biggest) * f}
             for f in (0, 0.5, 1)]
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "axis_y": HEIGHT - BOTTOM,
            "bars": bars, "ticks": ticks, "bands": [b[0] for b in BANDS]}
