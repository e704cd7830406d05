"""An order's lines and totals in words, for the mails that confirm or announce an order
(checkout, 1-Click, a standing order's reminder): the same lines, the same money, in every mail."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

from portal.catalog.models import UnitCode, unit_count, unit_label
from portal.formatting import money, volume


class Line(Protocol):
    name: str
    unit_code: str
    eaches_per_unit: int
    quantity: int
    eaches: int
    line_total: Decimal


def lines_text(lines: Iterable[Line]) -> str:
    """One indented line per item: "  2 × Vitamin D, Case of 12 (24 eaches)  $49.90"."""
    written = []
    for line in lines:
        unit = "" if line.unit_code == UnitCode.EACH else \
            f", {unit_label(line.unit_code, line.eaches_per_unit)} ({unit_count(line.eaches)})"
        written.append(f"  {line.quantity} × {line.name}{unit}  {money(line.line_total)}")
    return "\n".join(written)


def totals_text(*, subtotal: Decimal, shipping: Decimal, total: Decimal, pv: Decimal) -> str:
    """Subtotal, shipping, total and PV, one a line."""
    return (f"Subtotal {money(subtotal)}\nShipping {money(shipping)}\nTotal {money(total)}\n"
            f"PV {volume(pv)}")
