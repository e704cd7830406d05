"""Tracking numbers for many shipments at once, from a CSV upload.

Columns are ``shipment,carrier,tracking_number,ship_date`` in that order, or in any order under
a header row naming them (a first row with a cell "carrier" or "tracking_number"); the first
column may be headed "order" instead of "shipment". A shipment is named by its number
(``SH00000012``) or id (``12``), or by an order number (``SO00000042``) when that order is in
exactly one shipment released to the warehouse. A shipment with several parcels takes one row
per tracking number, all with the same carrier and ship date. Rows are checked like the admin
form (``portal.fulfilment.tracking``).

Unlike the inventory files, this is not all or nothing: every shipment whose rows are all good
is marked shipped; a row with a problem changes nothing, and neither do the other rows of its
shipment. Every problem is reported with its line, and the good shipments are named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.errors import DomainError
from portal.fulfilment.inventory_csv import CsvRejected, by_line, file_records
from portal.fulfilment.models import Shipment, ShipmentPick, ShipmentStatus, TrackingNumber
from portal.fulfilment.shipments import ship_shipment
from portal.fulfilment.tracking import (Dispatch, TrackingRefused, carrier_name, ship_date,
                                        tracking_number)
from portal.spreadsheet import looks_like_formula

COLUMNS = ("shipment", "carrier", "tracking_number", "ship_date")
HEADER_WORDS = {"shipment", "order", "carrier", "tracking_number", "ship_date"}


@dataclass(frozen=True)
class TrackingRow:
    line: int
    reference: str   # as written: SH..., a bare id, or SO...
    carrier: str | None
    number: str | None
    shipped_on: date | None
    bad: bool = False  # a row with a problem: it still holds back the rest of its shipment


@dataclass
class TrackingImport:
    """What an upload did: the shipments marked shipped and every problem, by line."""

    shipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def import_tracking(session: Session, *, actor: User | None, data: bytes, today: date,
                    max_bytes: int, max_rows: int, urls: dict[str, str],
                    base_url: str) -> TrackingImport:
    """Mark shipped every shipment whose rows are all good; report the others by line.
    CsvRejected (nothing done) when the file as a whole cannot be read."""
    records = file_records(data, max_bytes)
    columns = list(COLUMNS)
    first_line, first_cells = records[0]
    names = [cell.strip().lower().replace(" ", "_") for cell in first_cells]
    if {"carrier", "tracking_number"} & set(names):
        columns = ["shipment" if name == "order" else name for name in names]
        missing = [name for name in COLUMNS if name not in columns]
        if missing or any(n not in HEADER_WORDS for n in names) or len(set(columns)) != len(columns):
            raise CsvRejected([f"Line {first_line}: the header must name the columns "
                               f"{', '.join(COLUMNS)} (or order for shipment), each once; found "
                               f"{', '.join(repr(c) for c in names[:8])}."])
        records = records[1:]
        if not records:
            raise CsvRejected(["The file has a header but no rows."])
    if len(records) > max_rows:
        raise CsvRejected([f"The file has {len(records):,} rows; at most {max_rows:,} at a time."])

    result = TrackingImport()
    rows = [row for number, cells in records
            if (row := _read_row(number, cells, columns, today, urls, result.problems)) is not None]
    # a bad row's line is among the problems already; its good siblings are held back below
    groups = _by_shipment(session, rows, result.problems)
    bad_lines = {int(m.group(1)) for p in result.problems if (m := re.match(r"Line (\d+):", p))}
    for shipment_id, group in sorted(groups.items()):
        lines = [row.line for row in group]
        if bad_lines & set(lines):
            for row in group:
                if row.line not in bad_lines:
                    result.problems.append(
                        f"Line {row.line}: not applied, because another row of the same shipment "
                        f"(line {min(bad_lines & set(lines))}) has a problem.")
            continue
        dispatch = Dispatch(carrier=group[0].carrier, numbers=tuple(r.number for r in group),
                            shipped_on=group[0].shipped_on)
        try:
            with session.begin_nested():
                shipment = ship_shipment(session, actor=actor, shipment_id=shipment_id,
                                         dispatch=dispatch, urls=urls, base_url=base_url)
                result.shipped.append(shipment.number)
        except (DomainError, IntegrityError) as error:  # changed meanwhile: this shipment only
            reason = error.message if isinstance(error, DomainError) else \
                "a tracking number was recorded by someone else at the same moment"
            result.problems += [f"Line {line}: {reason}" for line in lines]
    result.problems = by_line(result.problems)
    return result


def _read_row(number: int, cells: list[str], columns: list[str], today: date,
              urls: dict[str, str], problems: list[str]) -> TrackingRow | None:
    if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns):]):
        problems.append(f"Line {number}: {len(cells)} columns, but at most {len(columns)} "
                        f"({','.join(columns)}).")
        return None
    values = {name: (cells[index].strip() if index < len(cells) else "")
              for index, name in enumerate(columns)}
    found_before = len(problems)
    reference = values["shipment"]
    if not reference:
        problems.append(f"Line {number}: the shipment (or order number) is missing.")
    elif looks_like_formula(reference) or not re.fullmatch(r"(?i)(SH|SO)?\d{1,9}", reference):
        problems.append(f"Line {number}: {reference[:40]!r} is neither a shipment (SH00000012 "
                        "or 12) nor an order number (SO00000042).")
    checked = {}
    for name, check in (("carrier", lambda raw: carrier_name(raw, urls)),
                        ("tracking_number", tracking_number),
                        ("ship_date", lambda raw: ship_date(_date(raw), today))):
        try:
            checked[name] = check(values[name])
        except TrackingRefused as refused:
            problems.append(f"Line {number}: {refused.message}")
    if len(problems) > found_before:
        named = re.fullmatch(r"(?i)(SH|SO)?\d{1,9}", reference) and not looks_like_formula(reference)
        return TrackingRow(line=number, reference=reference.upper(), carrier=None, number=None,
                           shipped_on=None, bad=True) if named else None
    return TrackingRow(line=number, reference=reference.upper(), carrier=checked["carrier"],
                       number=checked["tracking_number"], shipped_on=checked["ship_date"])


def _date(raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
    except ValueError:
        return None


def _by_shipment(session: Session, rows: list[TrackingRow],
                 problems: list[str]) -> dict[int, list[TrackingRow]]:
    """The rows by the shipment they name, each row's shipment released and its tracking number
    new (in this file and in the database), each shipment's rows agreeing on carrier and date.
    Three queries, whatever the file's length."""
    shipment_ids = {row.line: int(row.reference.removeprefix("SH")) for row in rows
                    if not row.reference.startswith("SO")}
    order_ids = {row.line: int(row.reference.removeprefix("SO")) for row in rows
                 if row.reference.startswith("SO")}
    statuses = dict(session.execute(select(Shipment.id, Shipment.status)
                                    .where(Shipment.id.in_(set(shipment_ids.values())))).all())
    released_of_order: dict[int, list[int]] = {}
    for order_id, shipment_id in session.execute(
            select(ShipmentPick.order_id, ShipmentPick.shipment_id).distinct()
            .join(Shipment, Shipment.id == ShipmentPick.shipment_id)
            .where(ShipmentPick.order_id.in_(set(order_ids.values())),
                   Shipment.status == ShipmentStatus.RELEASED)
            .order_by(ShipmentPick.shipment_id)):
        released_of_order.setdefault(order_id, []).append(shipment_id)
    recorded = dict(session.execute(
        select(TrackingNumber.number, TrackingNumber.shipment_id)
        .where(TrackingNumber.number.in_({row.number for row in rows if not row.bad}))).all())

    groups: dict[int, list[TrackingRow]] = {}
    seen: dict[str, int] = {}
    for row in rows:
        if row.line in order_ids:
            found = released_of_order.get(order_ids[row.line], [])
            if len(found) != 1 and row.bad:
                continue  # its own problem is reported; it names no shipment to hold back
            if len(found) != 1:
                problems.append(f"Line {row.line}: order {row.reference} is in "
                                + ("no shipment released to the warehouse." if not found else
                                   f"{len(found)} released shipments; name the shipment (SH...) instead."))
                continue
            shipment_id = found[0]
        else:
            shipment_id = shipment_ids[row.line]
            status = statuses.get(shipment_id)
            if status != ShipmentStatus.RELEASED and row.bad:
                continue
            if status != ShipmentStatus.RELEASED:
                problems.append(f"Line {row.line}: shipment SH{shipment_id:08d} " + (
                    "does not exist (a newer plan may have replaced it)." if status is None else
                    "is already shipped." if status == ShipmentStatus.SHIPPED else
                    "is still planned; release it to the warehouse first."))
                continue
        group = groups.setdefault(shipment_id, [])
        if row.bad:
            group.append(row)
            continue
        if row.number in seen:
            problems.append(f"Line {row.line}: tracking number {row.number} is also on line "
                            f"{seen[row.number]}.")
        elif row.number in recorded:
            problems.append(f"Line {row.line}: tracking number {row.number} is already recorded "
                            f"for shipment SH{recorded[row.number]:08d}.")
        seen.setdefault(row.number, row.line)
        good = [other for other in group if not other.bad]
        if good and (good[0].carrier, good[0].shipped_on) != (row.carrier, row.shipped_on):
            problems.append(f"Line {row.line}: shipment SH{shipment_id:08d} has carrier "
                            f"{good[0].carrier} and ship date {good[0].shipped_on.isoformat()} on "
                            f"line {good[0].line}; one shipment leaves with one carrier on one day.")
        group.append(row)
    return groups
