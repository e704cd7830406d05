"""Sibling-shipment planner: decide which open orders ship now, together or in part.

``plan_shipments(orders, stock, eta)`` is a pure function over plain data. The same
input always gives the same plan, whatever the order of ``orders`` or of the
mappings.

Vocabulary
----------
* Orders with the same ``destination`` are **siblings**. Within a destination,
  siblings are taken by ``(placed_at, id)`` and each order's lines in their given
  order ("sibling order, then line order").
* A destination's **priority** is ``(earliest placed_at among its siblings,
  destination)``; smaller comes first.
* A destination's **demand** for a SKU is the total quantity of that SKU over all
  lines of all its siblings.

Rules
-----
1. **Pass 1, ship together.** Destinations are taken by priority. If every SKU's
   demand is at most the stock still remaining, all of it is allocated and one
   ``complete`` shipment is emitted, picking exactly every line's quantity.
2. **Pass 2, partial.** Using the stock remaining *after pass 1* (before any
   pass-2 pick):

   * a destination left over from pass 1 is **eligible** if at least one of its
     SKUs has remaining stock > 0;
   * its **next fulfilment time** is the latest ``eta`` among its *short* SKUs,
     i.e. SKUs whose demand (aggregated over the siblings) exceeds the remaining
     stock. A missing or ``None`` eta counts as later than any date. Every
     leftover destination has at least one short SKU, because stock only
     shrinks after its turn in pass 1.

   Eligible destinations are taken by next fulfilment time, largest first, ties
   by priority. Each fills its lines in sibling order then line order with
   ``min(qty, remaining)``; these fills consume stock as they go, so a later
   destination may find nothing left. One ``partial`` shipment is emitted if
   anything was picked, otherwise none.
3. Everything else waits and does not appear in the plan.

Output and edge cases
---------------------
* Shipments are returned in emission order: pass 1 in priority order, then
  pass 2 in its own order. Each destination appears at most once.
* Picks follow sibling order then line order, **one pick per order line** (two
  lines of one order with the same SKU give two picks; nothing is merged). In
  a partial shipment, a line that gets nothing has no pick, so every pick has
  ``qty > 0``.
* A SKU missing from ``stock`` has 0 in stock. A SKU missing from ``eta`` has no
  known eta.
* ``ValueError`` is raised for: duplicate order ids, an order with no lines, a
  line quantity that is not an ``int`` (``bool`` included) or is <= 0, a stock
  level that is not an ``int`` or is negative.
* Order ids must be hashable and comparable with each other: equal
  ``placed_at`` values are broken by id.
* Inputs are never mutated.
* ``placed_at`` values are compared only with each other, and so are etas;
  mixing naive and aware datetimes within one of those groups is the caller's
  problem (Python raises ``TypeError``).

Performance
-----------
Cost is O(n + d log d) for n lines and d destinations (plus sorting each
destination's few siblings): one pass groups, validates and aggregates demand,
one sort orders destinations, and the rest are linear passes over dicts and
tuples. The cyclic garbage collector is paused for the duration of a call
(thread-safely, restored afterwards) because full collections set off by the
output's allocations otherwise cost as much as the planning; the planner makes
no reference cycles.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import Literal

__all__ = ["OrderLine", "OpenOrder", "Pick", "Shipment", "ShipmentKind", "plan_shipments"]

ShipmentKind = Literal["complete", "partial"]


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int  # eaches, > 0


@dataclass(frozen=True, slots=True)
class OpenOrder:
    id: Hashable
    destination: str
    placed_at: datetime
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class Pick:
    order_id: Hashable
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Shipment:
    destination: str
    kind: ShipmentKind
    picks: tuple[Pick, ...]


# (earliest placed_at, destination, siblings in sibling order, demand per SKU)
_Destination = tuple[datetime, str, list[OpenOrder], dict[str, int]]


_sibling_order = attrgetter("placed_at", "id")
_next_fulfilment_order = itemgetter(0)

# The cyclic GC is paused while planning; see _cyclic_gc_paused.
_gc_pause_lock = threading.Lock()
_gc_pause_depth = 0
_gc_enable_after_pause = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, re-entrantly and thread-safely.

    Why: a plan allocates about one Pick per line. That many allocations set off
    full collections, which traverse the whole process heap (the input orders
    alone are well over one object per line) and measured as costly as the
    planning itself. The planner creates no reference cycles, so pausing loses
    nothing; the collector is re-enabled, if it was enabled, when the last
    concurrent planner returns.
    """
    global _gc_pause_depth, _gc_enable_after_pause
    with _gc_pause_lock:
        if _gc_pause_depth == 0:
            _gc_enable_after_pause = gc.isenabled()
            gc.disable()
        _gc_pause_depth += 1
    try:
        yield
    finally:
        with _gc_pause_lock:
            _gc_pause_depth -= 1
            if _gc_pause_depth == 0 and _gc_enable_after_pause:
                gc.enable()


def _remaining_stock(stock: Mapping[str, int]) -> dict[str, int]:
    remaining = dict(stock)
    for sku, level in remaining.items():
        if type(level) is not int or level < 0:
            raise ValueError(f"stock for SKU {sku!r} must be a non-negative int, got {level!r}")
    return remaining


def _siblings_by_destination(orders: Iterable[OpenOrder]) -> dict[str, list[OpenOrder]]:
    siblings_by_destination: dict[str, list[OpenOrder]] = {}
    seen_ids: set[Hashable] = set()
    for order in orders:
        order_id = order.id
        if order_id in seen_ids:
            raise ValueError(f"duplicate order id {order_id!r}")
        seen_ids.add(order_id)
        if not order.lines:
            raise ValueError(f"order {order_id!r} has no lines")
        siblings = siblings_by_destination.get(order.destination)
        if siblings is None:
            siblings_by_destination[order.destination] = [order]
        else:
            siblings.append(order)
    return siblings_by_destination


def _destinations_by_priority(orders: Iterable[OpenOrder]) -> list[_Destination]:
    """Group orders into destinations, validate their lines and aggregate demand per SKU."""
    destinations = []
    for destination, siblings in _siblings_by_destination(orders).items():
        if len(siblings) > 1:
            siblings.sort(key=_sibling_order)
        demand: dict[str, int] = {}
        for order in siblings:
            for line in order.lines:
                qty = line.qty
                if type(qty) is not int or qty <= 0:
                    raise ValueError(
                        f"order {order.id!r}, SKU {line.sku!r}: quantity must be a positive int, got {qty!r}"
                    )
                sku = line.sku
                demand[sku] = demand.get(sku, 0) + qty
        destinations.append((siblings[0].placed_at, destination, siblings, demand))
    # Sorting the tuples themselves is faster than through a key function, and
    # destinations are unique, so comparisons never go past the second item.
    destinations.sort()
    return destinations


def _next_fulfilment_key(
    demand: dict[str, int], remaining: dict[str, int], eta: Mapping[str, datetime | None]
) -> tuple[bool] | tuple[bool, datetime] | None:
    """Sort key of the latest eta among short SKUs, or None if the destination is not eligible.

    The key is (True,) for an unknown eta, which sorts after every (False, eta).
    """
    eligible = False
    eta_unknown = False
    latest_eta: datetime | None = None
    for sku, needed in demand.items():
        available = remaining.get(sku, 0)
        if available > 0:
            eligible = True
        if needed > available and not eta_unknown:
            sku_eta = eta.get(sku)
            if sku_eta is None:
                eta_unknown = True
            elif latest_eta is None or sku_eta > latest_eta:
                latest_eta = sku_eta
    if not eligible:
        return None
    if eta_unknown:
        return (True,)
    # A leftover always has a short SKU: stock only shrinks after its pass-1 turn.
    assert latest_eta is not None
    return (False, latest_eta)


def _complete_picks(siblings: list[OpenOrder]) -> tuple[Pick, ...]:
    return tuple([Pick(order.id, line.sku, line.qty) for order in siblings for line in order.lines])


def _partial_picks(siblings: list[OpenOrder], remaining: dict[str, int]) -> tuple[Pick, ...]:
    """Fill lines in order with min(qty, remaining), consuming ``remaining``."""
    picks = []
    for order in siblings:
        order_id = order.id
        for line in order.lines:
            sku = line.sku
            available = remaining.get(sku, 0)
            if available > 0:
                qty = line.qty
                taken = qty if qty < available else available
                remaining[sku] = available - taken
                picks.append(Pick(order_id, sku, taken))
    return tuple(picks)


def plan_shipments(
    orders: Iterable[OpenOrder],
    stock: Mapping[str, int],
    eta: Mapping[str, datetime | None],
) -> list[Shipment]:
    """Plan complete and partial shipments for open orders; see the module docstring for the rules."""
    with _cyclic_gc_paused():
        return _plan(orders, stock, eta)


def _plan(
    orders: Iterable[OpenOrder],
    stock: Mapping[str, int],
    eta: Mapping[str, datetime | None],
) -> list[Shipment]:
    remaining = _remaining_stock(stock)
    destinations = _destinations_by_priority(orders)

    shipments: list[Shipment] = []
    leftovers: list[_Destination] = []
    for entry in destinations:
        _, destination, siblings, demand = entry
        for sku, needed in demand.items():
            if remaining.get(sku, 0) < needed:
                leftovers.append(entry)
                break
        else:
            for sku, needed in demand.items():
                remaining[sku] -= needed
            shipments.append(Shipment(destination, "complete", _complete_picks(siblings)))

    # Every key is computed before any pass-2 pick: eligibility and next
    # fulfilment time are defined on the stock left after pass 1.
    partial_candidates = []
    for _, destination, siblings, demand in leftovers:
        key = _next_fulfilment_key(demand, remaining, eta)
        if key is not None:
            partial_candidates.append((key, destination, siblings))
    # Leftovers are already in priority order and a reverse sort is still stable,
    # so ties on next fulfilment time keep priority order.
    partial_candidates.sort(key=_next_fulfilment_order, reverse=True)

    for _, destination, siblings in partial_candidates:
        picks = _partial_picks(siblings, remaining)
        if picks:
            shipments.append(Shipment(destination, "partial", picks))
    return shipments
