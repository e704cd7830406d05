"""Inventory CSV uploads, all or nothing: receipts put eaches on hand, expected arrivals go on
purchase orders. ``inventory_csv`` reads and checks the rows; this module checks them against
the database (known SKUs and purchase orders, the stock ceiling) and saves them."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.catalog.models import MAX_ON_HAND, Product
from portal.fulfilment.coordination import request_planning
from portal.fulfilment.inventory_csv import CsvRejected, CsvRow, by_line, parse_rows
from portal.fulfilment.models import PurchaseOrder, PurchaseOrderLine, expire_loaded
from portal.fulfilment.receiving import on_hand_for_update, receive_entries


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
    problems += _beyond_ceiling(counted, on_hand_for_update(session, product_ids.values()),
                                "on hand")
    if problems:
        raise CsvRejected(by_line(problems))
    receive_entries(session, actor, entries)
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
    expire_loaded(session, PurchaseOrder, PurchaseOrderLine)
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
