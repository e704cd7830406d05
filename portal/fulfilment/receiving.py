"""Receiving stock and expecting it: receipts (loose or against a purchase-order line) put
eaches on hand; expected arrivals are purchase-order lines the planner counts on. Each change
asks for a planning run after its commit."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.catalog.models import MAX_ON_HAND, Product, StockLevel
from portal.clock import utcnow
from portal.formatting import day
from portal.errors import DomainError, NotFound
from portal.fulfilment.coordination import request_planning
from portal.fulfilment.inventory_csv import MAX_EACHES
from portal.fulfilment.models import InventoryReceipt, PurchaseOrder, PurchaseOrderLine, expire_loaded


class InventoryError(DomainError):
    pass


def product_for_sku(session: Session, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == sku.strip().upper()))
    if product is None:
        raise InventoryError(f"No product has SKU {sku.strip()[:32]!r}.", field="sku")
    return product


def _check_eaches(eaches: int) -> None:
    if not isinstance(eaches, int) or isinstance(eaches, bool) or not 1 <= eaches <= MAX_EACHES:
        raise InventoryError(f"Eaches must be a whole number from 1 to {MAX_EACHES:,}.",
                             field="eaches")


def record_receipt(session: Session, *, actor: User | None, sku: str, eaches: int,
                   note: str = "") -> InventoryReceipt:
    """Eaches of a product arrived (not against a purchase order): on hand goes up."""
    _check_eaches(eaches)
    product = product_for_sku(session, sku)
    return receive_entries(session, actor, [(product.id, eaches, None, note)])[0]


def receive_purchase_order_line(session: Session, *, actor: User | None, line_id: int,
                                eaches: int, note: str = "") -> InventoryReceipt:
    """Eaches arrived against a purchase-order line: on hand and the line's received go up."""
    _check_eaches(eaches)
    line = session.get(PurchaseOrderLine, line_id)
    if line is None:
        raise NotFound("No such purchase-order line.")
    return receive_entries(session, actor, [(line.product_id, eaches, line.id, note)])[0]


def on_hand_for_update(session: Session, product_ids) -> dict[int, int]:
    """On hand per product (absent: no stock row yet), the rows locked until the commit in
    product order, so that two receipts neither deadlock nor both fit under the ceiling."""
    return dict(session.execute(
        select(StockLevel.product_id, StockLevel.on_hand)
        .where(StockLevel.product_id.in_(list(product_ids)))
        .order_by(StockLevel.product_id).with_for_update()).all())


def receive_entries(session: Session, actor: User | None,
             entries: list[tuple[int, int, int | None, str]]) -> list[InventoryReceipt]:
    """Receipts for (product id, eaches, purchase-order line id, note) entries; one UPDATE per
    product adds to on hand, in product order (so concurrent receipts cannot deadlock).
    Raises InventoryError, writing nothing, if a product would hold more than MAX_ON_HAND."""
    per_product = Counter()
    per_line = Counter()
    for product_id, eaches, line_id, _ in entries:
        per_product[product_id] += eaches
        if line_id is not None:
            per_line[line_id] += eaches
    have_stock = on_hand_for_update(session, per_product)
    for product_id, eaches in sorted(per_product.items()):
        now_on_hand = have_stock.get(product_id, 0)
        if now_on_hand + eaches > MAX_ON_HAND:
            sku = session.get(Product, product_id).sku
            raise InventoryError(f"{sku} has {now_on_hand:,} eaches on hand; {eaches:,} more would "
                                 f"pass the {MAX_ON_HAND:,} one product may hold.", field="eaches")

    now = utcnow()
    receipts = [InventoryReceipt(product_id=product_id, eaches=eaches, received_at=now,
                                 note=note.strip()[:200], purchase_order_line_id=line_id,
                                 received_by_id=actor.id if actor else None)
                for product_id, eaches, line_id, note in entries]
    session.add_all(receipts)
    session.flush()

    missing = sorted(set(per_product) - set(have_stock))
    if missing:
        session.execute(insert(StockLevel), [{"product_id": p, "on_hand": 0, "allocated": 0}
                                             for p in missing])
    stock = StockLevel.__table__
    session.execute(stock.update().where(stock.c.product_id == bindparam("p"))
                    .values(on_hand=stock.c.on_hand + bindparam("n"), updated_at=now),
                    [{"p": p, "n": n} for p, n in sorted(per_product.items())])
    if per_line:
        lines = PurchaseOrderLine.__table__
        session.execute(lines.update().where(lines.c.id == bindparam("l"))
                        .values(eaches_received=lines.c.eaches_received + bindparam("n")),
                        [{"l": line, "n": n} for line, n in sorted(per_line.items())])
    expire_loaded(session, StockLevel, PurchaseOrderLine)
    request_planning(session, "receipt")
    return receipts


def add_expected_arrival(session: Session, *, actor: User | None, reference: str, supplier: str,
                         expected_on: date, sku: str, eaches: int, today: date) -> PurchaseOrder:
    """Eaches of a product expected on a date, on a purchase order (created if new)."""
    _check_eaches(eaches)
    if expected_on < today:
        raise InventoryError("The expected date is in the past.", field="expected_on")
    product = product_for_sku(session, sku)
    reference = reference.strip()[:40]
    purchase_order = session.scalar(select(PurchaseOrder).where(PurchaseOrder.reference == reference))
    if purchase_order is None:
        purchase_order = PurchaseOrder(reference=reference, supplier=supplier.strip()[:120],
                                       expected_on=expected_on,
                                       created_by_id=actor.id if actor else None)
        try:
            with session.begin_nested():
                session.add(purchase_order)
        except IntegrityError:
            raise InventoryError(f"{reference} was added by someone else a moment ago; reload "
                                 "the page and try again.", field="reference") from None
    elif purchase_order.expected_on != expected_on:
        raise InventoryError(f"{reference} is expected on {day(purchase_order.expected_on)}; "
                             "a different date needs a different reference.", field="expected_on")
    line = next((l for l in purchase_order.lines if l.product_id == product.id), None)
    if line is None:
        purchase_order.lines.append(PurchaseOrderLine(product_id=product.id, eaches_expected=eaches))
    elif line.eaches_expected + eaches > MAX_ON_HAND:
        raise InventoryError(f"{reference} already expects {line.eaches_expected:,} eaches of "
                             f"{product.sku}; {eaches:,} more would pass the {MAX_ON_HAND:,} one "
                             "product may hold.", field="eaches")
    else:
        line.eaches_expected += eaches
    session.flush()
    request_planning(session, "expected arrival")
    return purchase_order
