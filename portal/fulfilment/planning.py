"""A planning run: load open orders, stock and expected arrivals, plan, save; one transaction.

What is planned: every paid order's eaches that are not yet in a released or shipped shipment
(a partly released order keeps its remainder open; an order that is wholly released is no
longer paid). Each run replaces the previous run's *planned* shipments and their allocations:
the stock they hold is given back, the planner decides afresh, and the new plan is saved and
allocated. Released and shipped shipments, and the stock they hold, are never touched.

Saving writes only the difference: a planned shipment that the new plan contains unchanged
(same destination, kind and picks) keeps its row, its id and the run that first planned it, and
only its position in the plan is updated if that moved; the others are deleted and the new ones
inserted. The result is the same plan as deleting and inserting everything, but a rerun after
one new order rewrites a few rows, not the whole plan.

Set-based throughout: a few SELECTs load everything, the pure planner decides, COPY and
UPDATE ... FROM statements save. Allocation is guarded in SQL
(``on_hand - allocated >= n``) and by the check constraint ``allocated <= on_hand``; a guard
that refuses aborts the run.

Only one run may change the plan at a time: the transaction first takes a transaction-level
advisory lock (releasing and shipping take it too).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time as clock_time, timezone

from sqlalchemy import Integer, any_, bindparam, column, delete, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from portal.catalog.models import Product, StockLevel
from portal.clock import utcnow
from portal.fulfilment.models import (PlanningRun, PurchaseOrder, PurchaseOrderLine, RunStatus,
                                      Shipment, ShipmentPick, ShipmentStatus, expire_loaded)
from portal.fulfilment.planner import OpenOrder, OrderLine as PlannedLine, Shipment as PlannedShipment
from portal.fulfilment.planner import plan_shipments
from portal.orders.models import Order, OrderLine
from portal.orders.refund_amounts import refunded_eaches
from portal.orders.states import OrderStatus

# Any 64-bit number nobody else uses for pg_advisory_xact_lock: "plan" in ASCII, then 1.
ADVISORY_LOCK_ID = 0x706C616E_00000001

LineRef = tuple[int, int, str, int]        # line id, product id, sku, eaches to plan
LinePick = tuple[Hashable, int, int, int]  # order id, line id, product id, eaches
SHIPMENT_COLUMNS = ("run_id", "position", "destination_key", "kind", "status")
PICK_COLUMNS = ("shipment_id", "order_id", "order_line_id", "product_id", "eaches")


class AllocationRefused(RuntimeError):
    """Stock changed under the run in a way the allocation guard would not accept."""


def hold_planning_lock(session: Session) -> None:
    """Serialise this transaction with every other that changes the plan or its allocations.

    Must be the first thing the transaction does. Held until it commits or rolls back.
    """
    session.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_ID)))


@dataclass
class Snapshot:
    """What the planner is given, plus what is needed to turn its picks back into rows."""

    orders: list[OpenOrder] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)
    eta: dict[str, datetime | None] = field(default_factory=dict)
    # order id -> its lines in line order
    lines_of: dict[Hashable, list[LineRef]] = field(default_factory=dict)


def run_planning(session: Session, *, trigger: str = "") -> PlanningRun:
    """Replace the planned shipments with a fresh plan and allocate its stock.

    Flushes, never commits: the caller commits (or rolls back, leaving the old plan). Raises
    AllocationRefused if stock shrank under the run, which the rollback undoes.
    """
    hold_planning_lock(session)
    run = PlanningRun(trigger=trigger[:200], started_at=utcnow(), status=RunStatus.RUNNING)
    session.add(run)
    session.flush()

    started = time.perf_counter()
    _lock_stock_rows(session)
    release_planned_allocations(session)
    snapshot = load_snapshot(session)
    loaded = time.perf_counter()
    plan = plan_shipments(snapshot.orders, snapshot.stock, snapshot.eta)
    planned = time.perf_counter()
    picks = [line_picks(shipment, snapshot.lines_of) for shipment in plan]
    _save_plan(session, run, plan, picks)
    _record_counts(run, snapshot, plan, picks)
    saved = time.perf_counter()

    run.load_ms = round((loaded - started) * 1000)
    run.plan_ms = round((planned - loaded) * 1000)
    run.save_ms = round((saved - planned) * 1000)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = utcnow()
    session.flush()
    expire_loaded(session, StockLevel)
    return run


def record_failed_run(session: Session, *, trigger: str, error: BaseException,
                      started_at: datetime | None = None) -> PlanningRun:
    """A failed run's row, written in a transaction of its own after the run rolled back."""
    run = PlanningRun(trigger=trigger[:200], started_at=started_at or utcnow(),
                      finished_at=utcnow(), status=RunStatus.FAILED,
                      error=f"{type(error).__name__}: {error}"[:2000])
    session.add(run)
    session.flush()
    return run


def _lock_stock_rows(session: Session) -> None:
    """Lock every stock row for the run, in id order, so that a stock correction waits for the
    run instead of making its allocation fail halfway. (Receipts wait too; orders do not touch
    stock rows.)"""
    session.execute(select(StockLevel.product_id).order_by(StockLevel.product_id)
                    .with_for_update()).all()


def _picks_by_product(*criteria):
    return (select(ShipmentPick.product_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
            .where(*criteria).group_by(ShipmentPick.product_id).subquery())


def release_planned_allocations(session: Session) -> None:
    """Give back the stock held by planned shipments (not released ones), for replanning."""
    held = _picks_by_product(Shipment.status == ShipmentStatus.PLANNED)
    session.execute(update(StockLevel).values(allocated=StockLevel.allocated - held.c.eaches)
                    .where(StockLevel.product_id == held.c.product_id)
                    .execution_options(synchronize_session=False))


def expected_arrivals_query():
    """(product id, earliest expected date) over purchase-order lines still to arrive."""
    return (select(PurchaseOrderLine.product_id, func.min(PurchaseOrder.expected_on).label("expected_on"))
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .where(PurchaseOrderLine.eaches_received < PurchaseOrderLine.eaches_expected)
            .group_by(PurchaseOrderLine.product_id))


def eta_datetime(day: date) -> datetime:
    return datetime.combine(day, clock_time.min, tzinfo=timezone.utc)


def load_snapshot(session: Session) -> Snapshot:
    """Open orders (paid, eaches not yet in a released or shipped shipment), available stock
    per SKU and the earliest expected arrival per SKU, in four SELECTs."""
    snapshot = Snapshot()
    sku_of: dict[int, str] = {}
    for product_id, sku, available in session.execute(
            select(Product.id, Product.sku, StockLevel.on_hand - StockLevel.allocated)
            .outerjoin(StockLevel, StockLevel.product_id == Product.id)):
        sku_of[product_id] = sku
        snapshot.stock[sku] = available or 0
    for product_id, expected_on in session.execute(expected_arrivals_query()):
        snapshot.eta[sku_of[product_id]] = eta_datetime(expected_on)

    paid = select(Order.id).where(Order.status == OrderStatus.PAID)
    connection = session.connection()  # Core rows: the ORM's per-row result machinery adds up over every open order
    headers = {order_id: (destination, placed_at) for order_id, destination, placed_at in connection.execute(
        select(Order.id, Order.destination_key, Order.placed_at).where(Order.status == OrderStatus.PAID)).all()}
    sent = (select(ShipmentPick.order_line_id, func.sum(ShipmentPick.eaches).label("eaches"))
            .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
            .where(Shipment.status.in_((ShipmentStatus.RELEASED, ShipmentStatus.SHIPPED)),
                   ShipmentPick.order_id.in_(paid))
            .group_by(ShipmentPick.order_line_id).subquery())
    refunded = refunded_eaches()  # refunded before they left: they never ship
    to_plan = OrderLine.eaches - func.coalesce(sent.c.eaches, 0) - func.coalesce(refunded.c.eaches, 0)
    rows = connection.execute(
        select(OrderLine.order_id, OrderLine.id, OrderLine.product_id, to_plan)
        .outerjoin(sent, sent.c.order_line_id == OrderLine.id)
        .outerjoin(refunded, refunded.c.order_line_id == OrderLine.id)
        .where(OrderLine.order_id.in_(paid), to_plan > 0)
        .order_by(OrderLine.order_id, OrderLine.id)).all()

    orders, lines_of = snapshot.orders, snapshot.lines_of
    # Lines are immutable values: one object per (SKU, eaches) serves every order holding it.
    shared_lines: dict[tuple[str, int], PlannedLine] = {}
    current_id = None
    lines: list[PlannedLine] = []
    refs: list[LineRef] = []
    for order_id, line_id, product_id, eaches in rows:
        if order_id != current_id:
            if current_id is not None and current_id in headers:
                orders.append(OpenOrder(current_id, *headers[current_id], tuple(lines)))
                lines_of[current_id] = refs
            current_id, lines, refs = order_id, [], []
        sku = sku_of[product_id]
        line = shared_lines.get((sku, eaches))
        if line is None:
            line = shared_lines[sku, eaches] = PlannedLine(sku, eaches)
        lines.append(line)
        refs.append((line_id, product_id, sku, eaches))
    if current_id is not None and current_id in headers:
        # An order paid between the two SELECTs (PostgreSQL) waits for the run it asked for.
        orders.append(OpenOrder(current_id, *headers[current_id], tuple(lines)))
        lines_of[current_id] = refs
    return snapshot


def line_picks(shipment: PlannedShipment, lines_of: dict[Hashable, list[LineRef]]) -> list[LinePick]:
    """(order id, line id, product id, eaches) for each pick of ``shipment``.

    The planner gives one pick per line it fills, in sibling order then line order, and skips
    lines it cannot fill; so walking each order's lines in order and taking the next pick when
    its SKU matches pairs them exactly (of two lines with one SKU, the first is filled first).
    """
    rows = []
    picks = shipment.picks
    index, count = 0, len(picks)
    while index < count:
        order_id = picks[index].order_id
        refs = lines_of[order_id]
        end = index + len(refs)
        if end <= count and picks[end - 1].order_id == order_id:
            # Every line picked (always so in a complete shipment): picks and lines pair in order.
            for pick, (line_id, product_id, sku, _) in zip(picks[index:end], refs):
                if pick.sku != sku:
                    raise AssertionError(f"pick {pick} does not match line {line_id}")
                rows.append((order_id, line_id, product_id, pick.qty))
            index = end
            continue
        for line_id, product_id, sku, _ in refs:
            if index < count and picks[index].order_id == order_id and picks[index].sku == sku:
                rows.append((order_id, line_id, product_id, picks[index].qty))
                index += 1
        if index < count and picks[index].order_id == order_id:
            raise AssertionError(f"pick {picks[index]} matches no line of order {order_id}")
    return rows


def _content(destination: str, kind: str, pairs: Iterable[tuple[int, int]]) -> tuple:
    """What makes two planned shipments the same: destination, kind, (line, eaches) picks."""
    return destination, kind, tuple(sorted(pairs))


def _planned_shipments(session: Session) -> dict[tuple, list[tuple[int, int]]]:
    """The planned shipments in the database, by content -> (id, position)."""
    by_shipment: dict[tuple[int, int], tuple[str, str, list[tuple[int, int]]]] = {}
    for shipment_id, position, destination, kind, line_id, eaches in session.connection().execute(
            select(Shipment.id, Shipment.position, Shipment.destination_key, Shipment.kind,
                   ShipmentPick.order_line_id, ShipmentPick.eaches)
            .join(ShipmentPick, ShipmentPick.shipment_id == Shipment.id)
            .where(Shipment.status == ShipmentStatus.PLANNED)).all():
        entry = by_shipment.get((shipment_id, position))
        if entry is None:
            entry = by_shipment[shipment_id, position] = (destination, kind, [])
        entry[2].append((line_id, eaches))
    existing: dict[tuple, list[tuple[int, int]]] = {}
    for key, (destination, kind, pairs) in by_shipment.items():
        existing.setdefault(_content(destination, kind, pairs), []).append(key)
    return existing


def _save_plan(session: Session, run: PlanningRun, plan: list[PlannedShipment],
               picks: list[list[LinePick]]) -> None:
    existing = _planned_shipments(session)
    moved: list[tuple[int, int]] = []  # (shipment id, new position) of kept shipments that moved
    new: list[int] = []                # positions of shipments to insert
    demand: dict[int, int] = {}
    for position, (shipment, rows) in enumerate(zip(plan, picks)):
        for _, _, product_id, eaches in rows:
            demand[product_id] = demand.get(product_id, 0) + eaches
        same = existing.get(_content(shipment.destination, shipment.kind,
                                     ((line_id, eaches) for _, line_id, _, eaches in rows)))
        if same:
            shipment_id, old_position = same.pop()
            if old_position != position:
                moved.append((shipment_id, position))
        else:
            new.append(position)
    _delete_shipments(session, sorted(shipment_id for kept in existing.values() for shipment_id, _ in kept))
    _move(session, moved)
    new_ids = _insert_shipments(session, [
        (run.id, position, plan[position].destination, plan[position].kind, ShipmentStatus.PLANNED.value)
        for position in new])
    _insert_picks(session, [(shipment_id, order_id, line_id, product_id, eaches)
                            for shipment_id, position in zip(new_ids, new)
                            for order_id, line_id, product_id, eaches in picks[position]])

    wanted = _picks_by_product(Shipment.status == ShipmentStatus.PLANNED)
    allocated = session.execute(
        update(StockLevel).values(allocated=StockLevel.allocated + wanted.c.eaches)
        .where(StockLevel.product_id == wanted.c.product_id,
               StockLevel.on_hand - StockLevel.allocated >= wanted.c.eaches)
        .execution_options(synchronize_session=False))
    if allocated.rowcount != len(demand):
        raise AllocationRefused(f"stock changed during planning: {allocated.rowcount} of "
                                f"{len(demand)} products could be allocated")


def _delete_shipments(session: Session, ids: list[int]) -> None:
    """Delete planned shipments that the new plan does not contain, with their picks."""
    if not ids:
        return
    # One array parameter: an IN list of 100,000 ids would be as many bound parameters.
    session.execute(delete(ShipmentPick).where(ShipmentPick.shipment_id == any_(_ids(ids)))
                    .execution_options(synchronize_session=False))
    session.execute(delete(Shipment).where(Shipment.id == any_(_ids(ids)))
                    .execution_options(synchronize_session=False))


def _move(session: Session, moved: list[tuple[int, int]]) -> None:
    """New positions in the plan for unchanged shipments whose place moved."""
    if not moved:
        return
    rows = func.unnest(_ids([i for i, _ in moved]), _ids([p for _, p in moved])).table_valued(
        column("id", Integer), column("position", Integer)).render_derived()
    session.execute(update(Shipment).values(position=rows.c.position).where(Shipment.id == rows.c.id)
                    .execution_options(synchronize_session=False))


def _insert_shipments(session: Session, rows: list[tuple]) -> list[int]:
    """Insert shipments; their ids in the order of ``rows``.

    Ids are drawn from the sequence and the rows sent with COPY (a bulk INSERT with RETURNING
    is much slower for a large plan).
    """
    if not rows:
        return []
    sequence = func.pg_get_serial_sequence(Shipment.__tablename__, "id")
    ids = session.scalars(select(func.nextval(sequence)).select_from(
        func.generate_series(1, len(rows)))).all()
    _copy(session, Shipment.__tablename__, ("id", *SHIPMENT_COLUMNS),
          ((shipment_id, *row) for shipment_id, row in zip(ids, rows)))
    return ids


def _insert_picks(session: Session, rows: list[tuple]) -> None:
    if not rows:
        return
    _copy(session, ShipmentPick.__tablename__, PICK_COLUMNS, rows)


def _ids(values: list[int]):
    return bindparam(None, values, type_=ARRAY(Integer))


def _copy(session: Session, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """COPY rows into ``table`` on the session's connection, inside its transaction."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _record_counts(run: PlanningRun, snapshot: Snapshot, plan: list[PlannedShipment],
                   picks: list[list[LinePick]]) -> None:
    picked = {line_id: eaches for rows in picks for _, line_id, _, eaches in rows}
    orders_shipping = orders_split = lines = lines_filled = demanded = 0
    for refs in snapshot.lines_of.values():
        any_picked, all_filled = False, True
        for line_id, _, _, eaches in refs:
            lines += 1
            demanded += eaches
            got = picked.get(line_id, 0)
            any_picked = any_picked or got > 0
            if got >= eaches:
                lines_filled += 1
            else:
                all_filled = False
        if any_picked:
            orders_shipping += 1
            orders_split += not all_filled
    run.orders = len(snapshot.orders)
    run.lines = lines
    run.eaches_demanded = demanded
    run.eaches_allocated = sum(picked.values())
    run.lines_filled = lines_filled
    run.shipments_complete = sum(1 for shipment in plan if shipment.kind == "complete")
    run.shipments_partial = len(plan) - run.shipments_complete
    run.orders_shipping = orders_shipping
    run.orders_split = orders_split
    run.orders_waiting = run.orders - orders_shipping
