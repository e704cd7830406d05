"""Inventory and shipment changes: receipts, expected arrivals, releasing and shipping a
shipment, and asking for a planning run after every change the plan depends on."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date

import redis as redis_lib
from flask import current_app
from sqlalchemy import bindparam, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session

from portal.accounts.models import User
from portal.catalog.models import MAX_ON_HAND, Product, StockLevel
from portal.clock import utcnow
from portal.errors import DomainError, NotFound
from portal.fulfilment import coordination
from portal.fulfilment.inventory_csv import MAX_EACHES, CsvRejected, CsvRow, by_line, parse_rows
from portal.fulfilment.models import (InventoryReceipt, PurchaseOrder, PurchaseOrderLine, Shipment,
                                      ShipmentPick, ShipmentStatus)
from portal.fulfilment.planning import hold_planning_lock
from portal.orders.models import Order, OrderLine
from portal.orders.services import change_status
from portal.orders.states import STATUS_LABELS, OrderStatus

log = logging.getLogger(__name__)

_REQUESTS_KEY = "portal.fulfilment.planning_requests"
_APP_KEY = "portal.fulfilment.app"


class InventoryError(DomainError):
    pass


class ShipmentError(DomainError):
    pass


# --------------------------------------------------------------------------------------------
# Planning requests
# --------------------------------------------------------------------------------------------

def request_planning(session: Session, reason: str) -> None:
    """Ask for a planning run once ``session`` commits; nothing happens on rollback.

    Call it beside any change the plan depends on: a paid order (checkout, a finalised
    1-Click order, a materialised autoship order), a receipt, an expected arrival. Requests
    are coalesced: a burst of them causes one run, and a request made while a run is going
    causes exactly one more run after it. ``reason`` is a short fixed word ("checkout"), shown
    in the history of planning runs. If Redis is unreachable the request is logged and lost;
    the cron safety net plans again within ``PLANNING_CRON_SECONDS``.
    """
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still drops the request
    requests = session.info.setdefault(_REQUESTS_KEY, Counter())
    requests[reason[:60] or "unspecified"] += 1
    session.info[_APP_KEY] = current_app._get_current_object()


@event.listens_for(Session, "after_commit")
def _send_planning_requests(session: Session) -> None:
    requests = session.info.pop(_REQUESTS_KEY, None)
    app = session.info.pop(_APP_KEY, None)
    if not requests or app is None:
        return
    try:
        coordination.request_run(app, requests)
    except redis_lib.RedisError as error:
        app.logger.warning("planning request %s not sent: %s", dict(requests), error)


@event.listens_for(Session, "after_soft_rollback")
def _drop_planning_requests(session: Session, previous_transaction) -> None:
    # Every rollback of the outermost transaction, even one that had not reached the database
    # yet; a savepoint's rollback keeps what the outer transaction asked for.
    if previous_transaction.nested or previous_transaction.parent is not None:
        return
    session.info.pop(_REQUESTS_KEY, None)
    session.info.pop(_APP_KEY, None)


# --------------------------------------------------------------------------------------------
# Receipts and expected arrivals
# --------------------------------------------------------------------------------------------

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
    return _receive(session, actor, [(product.id, eaches, None, note)])[0]


def receive_purchase_order_line(session: Session, *, actor: User | None, line_id: int,
                                eaches: int, note: str = "") -> InventoryReceipt:
    """Eaches arrived against a purchase-order line: on hand and the line's received go up."""
    _check_eaches(eaches)
    line = session.get(PurchaseOrderLine, line_id)
    if line is None:
        raise NotFound("No such purchase-order line.")
    return _receive(session, actor, [(line.product_id, eaches, line.id, note)])[0]


def _on_hand_for_update(session: Session, product_ids) -> dict[int, int]:
    """On hand per product (absent: no stock row yet), the rows locked until the commit in
    product order, so that two receipts neither deadlock nor both fit under the ceiling."""
    return dict(session.execute(
        select(StockLevel.product_id, StockLevel.on_hand)
        .where(StockLevel.product_id.in_(list(product_ids)))
        .order_by(StockLevel.product_id).with_for_update()).all())


def _receive(session: Session, actor: User | None,
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
    have_stock = _on_hand_for_update(session, per_product)
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
    _expire(session, (StockLevel, PurchaseOrderLine))
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
        raise InventoryError(f"{reference} is expected on {purchase_order.expected_on:%b %d, %Y}; "
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


def import_receipts(session: Session, *, actor: User | None, data: bytes, today: date,
                    max_bytes: int, max_rows: int) -> int:
    """Receipts from a CSV upload, all or nothing; returns the number of rows imported.

    A row's reference, if any, names the purchase order it was received against, which must
    have a line for that SKU. Raises CsvRejected listing every problem by line.
    """
    rows, problems = parse_rows(data, arrivals=False, today=today, max_bytes=max_bytes,
                                max_rows=max_rows)
    product_ids = _products_by_sku(session, rows, problems)
    references = {row.reference for row in rows if row.reference}
    po_lines = {(reference, product_id): line_id for reference, product_id, line_id in session.execute(
        select(PurchaseOrder.reference, PurchaseOrderLine.product_id, PurchaseOrderLine.id)
        .join(PurchaseOrderLine).where(PurchaseOrder.reference.in_(references)))}
    known_references = {reference for reference, _ in po_lines} | set(session.scalars(
        select(PurchaseOrder.reference).where(PurchaseOrder.reference.in_(references))))
    entries = []
    for row in rows:
        product_id = product_ids.get(row.sku)
        line_id = None
        if row.reference and product_id is not None:
            if row.reference not in known_references:
                problems.append(f"Line {row.line}: there is no purchase order {row.reference}.")
                continue
            line_id = po_lines.get((row.reference, product_id))
            if line_id is None:
                problems.append(f"Line {row.line}: purchase order {row.reference} has no line "
                                f"for {row.sku}.")
                continue
        if product_id is not None:
            entries.append((product_id, row.eaches, line_id, f"CSV upload, line {row.line}"))
    counted = [(row, product_ids[row.sku]) for row in rows if row.sku in product_ids]
    problems += _beyond_ceiling(counted, _on_hand_for_update(session, product_ids.values()),
                                "on hand")
    if problems:
        raise CsvRejected(by_line(problems))
    _receive(session, actor, entries)
    return len(entries)


def import_arrivals(session: Session, *, actor: User | None, data: bytes, today: date,
                    max_bytes: int, max_rows: int) -> int:
    """Expected arrivals from a CSV upload, all or nothing; returns the number of rows.

    Rows with the same reference make one purchase order, which must have one expected date
    (also when it already exists). A row without a reference goes on the purchase order
    ``ETA-<date>`` of its date. Raises CsvRejected listing every problem by line.
    """
    rows, problems = parse_rows(data, arrivals=True, today=today, max_bytes=max_bytes,
                                max_rows=max_rows)
    product_ids = _products_by_sku(session, rows, problems)

    def reference_of(row: CsvRow) -> str:
        return row.reference or f"ETA-{row.expected_on.isoformat()}"

    existing = {po.reference: po for po in session.scalars(
        select(PurchaseOrder).where(PurchaseOrder.reference.in_({reference_of(r) for r in rows})))}
    dates: dict[str, tuple[date, int]] = {reference: (po.expected_on, 0)
                                          for reference, po in existing.items()}
    expected = Counter()
    counted: dict[str, list[tuple[CsvRow, int]]] = {}
    for row in rows:
        reference = reference_of(row)
        known = dates.setdefault(reference, (row.expected_on, row.line))
        if known[0] != row.expected_on:
            where = f"line {known[1]} of this file" if known[1] else "the purchase order already saved"
            problems.append(f"Line {row.line}: {reference} is expected on {known[0].isoformat()} "
                            f"({where}), not {row.expected_on.isoformat()}.")
        elif row.sku in product_ids:
            expected[reference, product_ids[row.sku]] += row.eaches
            counted.setdefault(reference, []).append((row, product_ids[row.sku]))
    for reference, counted_rows in counted.items():
        saved = {line.product_id: line.eaches_expected
                 for line in (existing[reference].lines if reference in existing else [])}
        problems += _beyond_ceiling(counted_rows, saved, f"expected on {reference}")
    if problems:
        raise CsvRejected(by_line(problems))

    orders = dict(existing)
    for reference in sorted({reference for reference, _ in expected} - set(existing)):
        orders[reference] = PurchaseOrder(reference=reference, supplier="CSV upload",
                                          expected_on=dates[reference][0],
                                          created_by_id=actor.id if actor else None)
        session.add(orders[reference])
    session.flush()
    current = {(po_id, product_id): line_id for po_id, product_id, line_id in session.execute(
        select(PurchaseOrderLine.purchase_order_id, PurchaseOrderLine.product_id, PurchaseOrderLine.id)
        .where(PurchaseOrderLine.purchase_order_id.in_([po.id for po in orders.values()])))}
    additions, new_lines = [], []
    for (reference, product_id), eaches in sorted(expected.items()):
        po_id = orders[reference].id
        line_id = current.get((po_id, product_id))
        if line_id is None:
            new_lines.append({"purchase_order_id": po_id, "product_id": product_id,
                              "eaches_expected": eaches, "eaches_received": 0})
        else:
            additions.append({"l": line_id, "n": eaches})
    if new_lines:
        session.execute(insert(PurchaseOrderLine), new_lines)
    if additions:
        lines = PurchaseOrderLine.__table__
        session.execute(lines.update().where(lines.c.id == bindparam("l"))
                        .values(eaches_expected=lines.c.eaches_expected + bindparam("n")), additions)
    _expire(session, (PurchaseOrder, PurchaseOrderLine))
    request_planning(session, "expected arrival")
    return len(rows)


def _beyond_ceiling(rows: list[tuple[CsvRow, int]], before: dict[int, int], what: str) -> list[str]:
    """A problem for each product that the file's ``rows`` (with their product ids) take past
    MAX_ON_HAND eaches, given ``before`` per product: reported at the row that crosses it, with
    the file's total for that product so that one fix of the file is enough."""
    totals = Counter()
    for row, product_id in rows:
        totals[product_id] += row.eaches
    running = Counter()
    problems, said = [], set()
    for row, product_id in rows:
        running[product_id] += row.eaches
        start = before.get(product_id, 0)
        if start + running[product_id] > MAX_ON_HAND and product_id not in said:
            said.add(product_id)  # once per product: the later rows only add to the same excess
            problems.append(
                f"Line {row.line}: this row takes {row.sku} to {start + running[product_id]:,} "
                f"eaches {what} ({start:,} before this file), past the {MAX_ON_HAND:,} one "
                f"product may hold; the file's rows for {row.sku} add {totals[product_id]:,} in "
                f"all, and at most {max(MAX_ON_HAND - start, 0):,} fit.")
    return problems


def _products_by_sku(session: Session, rows: list[CsvRow], problems: list[str]) -> dict[str, int]:
    skus = {row.sku for row in rows}
    found = dict(session.execute(select(Product.sku, Product.id).where(Product.sku.in_(skus))).all())
    for row in rows:
        if row.sku not in found:
            problems.append(f"Line {row.line}: no product has SKU {row.sku}.")
    return found


# --------------------------------------------------------------------------------------------
# Releasing and shipping planned shipments
# --------------------------------------------------------------------------------------------

def shipment_by_id(session: Session, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound("That shipment is no longer in the plan: a newer planning run replaced "
                       "it. Look at the latest plan.")
    return shipment


def _eaches_sent(session: Session, order_ids: list[int]) -> dict[int, int]:
    """Eaches per order line in released or shipped shipments, for the lines of ``order_ids``."""
    return dict(session.execute(
        select(ShipmentPick.order_line_id, func.sum(ShipmentPick.eaches))
        .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id.in_(order_ids),
               Shipment.status.in_((ShipmentStatus.RELEASED, ShipmentStatus.SHIPPED)))
        .group_by(ShipmentPick.order_line_id)).all())


def release_shipment(session: Session, *, actor: User | None, shipment_id: int) -> Shipment:
    """Hand a planned shipment to the warehouse. Its stock stays allocated and no planning run
    replaces it. Orders it completes become released; partly shipped orders stay paid, and
    their remainder is planned again."""
    hold_planning_lock(session)
    shipment = shipment_by_id(session, shipment_id)
    if shipment.status != ShipmentStatus.PLANNED:
        raise ShipmentError(f"Shipment {shipment.number} is already {shipment.status_label.lower()}.")
    order_ids = sorted({pick.order_id for pick in shipment.picks})
    orders = list(session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)))
    for order in orders:
        if order.status != OrderStatus.PAID:
            raise ShipmentError(f"Order {order.number} is {STATUS_LABELS[OrderStatus(order.status)].lower()} "
                                "now, so this plan is out of date. Plan again, then release.")
    shipment.status = ShipmentStatus.RELEASED
    shipment.released_at = utcnow()
    shipment.released_by_id = actor.id if actor else None
    session.flush()
    sent = _eaches_sent(session, order_ids)
    wanted = session.execute(select(OrderLine.order_id, OrderLine.id, OrderLine.eaches)
                             .where(OrderLine.order_id.in_(order_ids))).all()
    incomplete = {order_id for order_id, line_id, eaches in wanted if sent.get(line_id, 0) < eaches}
    for order in orders:
        if order.id not in incomplete:
            change_status(session, order, OrderStatus.RELEASED, f"in shipment {shipment.number}")
    return shipment


def ship_shipment(session: Session, *, actor: User | None, shipment_id: int) -> Shipment:
    """A released shipment left the warehouse: its eaches leave on hand and allocated, and the
    orders it was the last open shipment of become shipped."""
    hold_planning_lock(session)
    shipment = shipment_by_id(session, shipment_id)
    if shipment.status != ShipmentStatus.RELEASED:
        raise ShipmentError(f"Shipment {shipment.number} is {shipment.status_label.lower()}; only "
                            "a released shipment can be marked as shipped.")
    gone = (select(ShipmentPick.product_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .where(ShipmentPick.shipment_id == shipment.id)
            .group_by(ShipmentPick.product_id).subquery())
    session.execute(update(StockLevel)
                    .values(on_hand=StockLevel.on_hand - gone.c.eaches,
                            allocated=StockLevel.allocated - gone.c.eaches)
                    .where(StockLevel.product_id == gone.c.product_id)
                    .execution_options(synchronize_session=False))
    _expire(session, (StockLevel,))
    shipment.status = ShipmentStatus.SHIPPED
    shipment.shipped_at = utcnow()
    session.flush()
    order_ids = sorted({pick.order_id for pick in shipment.picks})
    still_open = set(session.scalars(
        select(ShipmentPick.order_id).join(Shipment, Shipment.id == ShipmentPick.shipment_id)
        .where(ShipmentPick.order_id.in_(order_ids), Shipment.status == ShipmentStatus.RELEASED)))
    for order in session.scalars(select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)):
        if order.status == OrderStatus.RELEASED and order.id not in still_open:
            change_status(session, order, OrderStatus.SHIPPED, f"shipment {shipment.number}")
    return shipment


def _expire(session: Session, classes: tuple[type, ...]) -> None:
    """Rows changed in SQL behind the ORM's back: reload them when next read."""
    for instance in list(session.identity_map.values()):
        if isinstance(instance, classes):
            session.expire(instance)
