"""What a refund gives back, worked out before anything is written: what is left to refund on
each line of an order, the money, PV and BV of a refund of some of it, and how many of its
eaches go back on the shelf.

The rules, in words:

- A line is refunded by quantity, in the unit it was ordered in, at the price it was charged
  (``unit_price`` x quantity). What is left of a line is its quantity minus every refund of it
  that went through or is still waiting for the gateway: a refund whose answer was lost holds
  its quantities until it is settled.
- PV and BV leave in proportion to the quantity, rounded to the cent; the refund that takes the
  last of a line takes exactly what is left of its volume, so that refunding a line piece by
  piece gives back exactly the line's volume.
- The shipping fee goes back only in a full refund ("everything left"), once.
- Refunded eaches come first out of those that have not left yet (not in a released or shipped
  shipment): they will not ship (planning leaves them out), and never left the shelf. The rest
  are with the warehouse or with the member; with "restock", those already shipped go back on
  hand (the member returned them). Eaches being packed when the refund is made ship anyway.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.formatting import money
from portal.fulfilment.models import Shipment, ShipmentPick, ShipmentStatus
from portal.orders.models import Order, OrderLine, Refund, RefundLine, RefundStatus
from portal.orders.rules import ZERO

CENT = Decimal("0.01")
HOLDING = (RefundStatus.PENDING, RefundStatus.SUCCEEDED)  # refunds that hold their quantities


@dataclass(frozen=True)
class RefundRequest:
    """What the person asked to refund: ``quantities`` (order line id -> quantity in the line's
    unit), or ``everything`` left on the order, its shipping fee included."""

    quantities: dict[int, int] = field(default_factory=dict)
    everything: bool = False


@dataclass(frozen=True)
class LineLeft:
    line: OrderLine
    refunded: int      # quantity refunded or waiting for the gateway
    left: int          # quantity that can still be refunded
    pv_left: Decimal
    bv_left: Decimal


@dataclass(frozen=True)
class PlannedLine:
    line: OrderLine
    quantity: int
    eaches: int
    amount: Decimal
    pv: Decimal
    bv: Decimal
    restocked_eaches: int   # go back on hand (with restock)
    unsent_eaches: int      # had not left yet: they will not ship


@dataclass(frozen=True)
class RefundPlan:
    lines: tuple[PlannedLine, ...]
    shipping: Decimal

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), self.shipping)

    @property
    def pv(self) -> Decimal:
        return sum((line.pv for line in self.lines), ZERO)

    @property
    def bv(self) -> Decimal:
        return sum((line.bv for line in self.lines), ZERO)

    @property
    def restocked_eaches(self) -> int:
        return sum(line.restocked_eaches for line in self.lines)

    def matches(self, refund: Refund) -> bool:
        """Whether ``refund`` asked for exactly this (a repeat of the same form)."""
        return (refund.shipping_amount == self.shipping
                and {r.order_line_id: r.quantity for r in refund.lines}
                == {p.line.id: p.quantity for p in self.lines})


class RefundRefusedHere(Exception):
    """Why a refund cannot be planned; the service turns it into its domain error."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def holding_refunds(order: Order, *, besides: int | None = None) -> list[Refund]:
    return [r for r in order.refunds if r.status in HOLDING and r.id != besides]


def lines_left(order: Order, *, besides: int | None = None) -> list[LineLeft]:
    """Each line of ``order`` with what is left to refund (refund ``besides`` not counted)."""
    taken: dict[int, list] = defaultdict(lambda: [0, ZERO, ZERO])
    for refund in holding_refunds(order, besides=besides):
        for refunded in refund.lines:
            entry = taken[refunded.order_line_id]
            entry[0] += refunded.quantity
            entry[1] += refunded.pv
            entry[2] += refunded.bv
    return [LineLeft(line, taken[line.id][0], line.quantity - taken[line.id][0],
                     line.pv - taken[line.id][1], line.bv - taken[line.id][2])
            for line in order.lines]


def shipping_left(order: Order, *, besides: int | None = None) -> Decimal:
    return order.shipping_fee - sum((r.shipping_amount for r in holding_refunds(order, besides=besides)),
                                    ZERO)


def money_left(order: Order, *, besides: int | None = None) -> Decimal:
    """What can still be given back: the total charged less every refund holding money."""
    return order.total - sum((r.amount for r in holding_refunds(order, besides=besides)), ZERO)


def eaches_sent(session: Session, order_id: int) -> dict[int, tuple[int, int]]:
    """Per order line: (eaches in released or shipped shipments, eaches in shipped ones)."""
    rows = session.execute(
        select(ShipmentPick.order_line_id, Shipment.status, func.sum(ShipmentPick.eaches))
        .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id == order_id,
               Shipment.status.in_((ShipmentStatus.RELEASED, ShipmentStatus.SHIPPED)))
        .group_by(ShipmentPick.order_line_id, Shipment.status)).all()
    sent: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for line_id, status, eaches in rows:
        sent[line_id][0] += eaches
        if status == ShipmentStatus.SHIPPED:
            sent[line_id][1] += eaches
    return {line_id: (both, shipped) for line_id, (both, shipped) in sent.items()}


def share(total: Decimal, part: int, whole: int) -> Decimal:
    return (total * part / whole).quantize(CENT, rounding=ROUND_HALF_UP)


def plan_refund(session: Session, order: Order, request: RefundRequest, *, restock: bool,
                besides: int | None = None) -> RefundPlan:
    """The refund ``request`` asks for on ``order``, as it stands; raises RefundRefusedHere when
    it asks for more than is left (or for nothing)."""
    left = {entry.line.id: entry for entry in lines_left(order, besides=besides)}
    if request.everything:
        wanted = {line_id: entry.left for line_id, entry in left.items() if entry.left > 0}
        shipping = shipping_left(order, besides=besides)
    else:
        wanted = {line_id: quantity for line_id, quantity in request.quantities.items() if quantity}
        shipping = ZERO
        for line_id, quantity in wanted.items():
            entry = left.get(line_id)
            if entry is None:
                raise RefundRefusedHere("That item is not on this order.")
            if quantity < 0 or quantity > entry.left:
                raise RefundRefusedHere(
                    f"{entry.line.name}: only {entry.left} of {entry.line.quantity} left to refund"
                    + (f" ({entry.refunded} already refunded)." if entry.refunded else "."),
                    field=f"quantity_{line_id}")
    if not wanted and not shipping:
        raise RefundRefusedHere("Everything on this order has been refunded already."
                                if request.everything else "Choose what to refund: a quantity "
                                "on at least one line.")
    sent = eaches_sent(session, order.id)
    restocked_before = defaultdict(int)
    refunded_eaches = defaultdict(int)
    for refund in holding_refunds(order, besides=besides):
        for refunded in refund.lines:
            restocked_before[refunded.order_line_id] += refunded.restocked_eaches
            refunded_eaches[refunded.order_line_id] += refunded.eaches
    planned = []
    for line_id, quantity in sorted(wanted.items()):
        entry = left[line_id]
        line = entry.line
        eaches = quantity * line.eaches_per_unit
        in_or_out, shipped = sent.get(line_id, (0, 0))
        unsent = min(eaches, max(line.eaches - in_or_out - refunded_eaches[line_id], 0))
        restocked = min(eaches - unsent, max(shipped - restocked_before[line_id], 0)) if restock else 0
        last = quantity == entry.left
        planned.append(PlannedLine(
            line=line, quantity=quantity, eaches=eaches, amount=line.unit_price * quantity,
            pv=entry.pv_left if last else share(line.pv, quantity, line.quantity),
            bv=entry.bv_left if last else share(line.bv, quantity, line.quantity),
            restocked_eaches=restocked, unsent_eaches=unsent))
    plan = RefundPlan(lines=tuple(planned), shipping=shipping)
    if plan.amount > money_left(order, besides=besides):  # the lines' prices rule it out; kept as a guard
        raise RefundRefusedHere(f"That is more than was charged: only "
                                f"{money(money_left(order, besides=besides))} is left to refund.")
    return plan


def refunded_eaches():
    """Eaches per order line refunded or waiting for the gateway, as a subquery
    (``order_line_id``, ``eaches``): planning leaves them out of what ships."""
    return (select(RefundLine.order_line_id, func.sum(RefundLine.eaches).label("eaches"))
            .join(Refund, Refund.id == RefundLine.refund_id)
            .where(Refund.status.in_(HOLDING))
            .group_by(RefundLine.order_line_id).subquery())
