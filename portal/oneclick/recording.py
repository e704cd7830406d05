"""Writing one 1-Click press: its order line (in a new open order, or added to an open one with
the order re-totalled) and the request row that makes the press happen exactly once.

On PostgreSQL these writes are one statement (data-modifying common table expressions), a
single round trip; SQLite has no data-modifying CTEs, and its statements cost no round trip,
so there they run one after another. Both paths write the same rows (a test compares them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, String, Text, bindparam, cast, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB

from portal.addresses.models import Address
from portal.oneclick.models import OneClickRequest
from portal.orders.models import Order, OrderLine, OrderSource, OrderStatusChange, order_number
from portal.orders.pricing import PricedLine, Totals
from portal.orders.services import (OrderTotals, add_line_to_open_order, insert_open_order,
                                    line_columns, order_columns)
from portal.orders.states import OrderStatus
from portal.payments.models import PaymentMethod

_ORDERS, _LINES, _CHANGES = Order.__table__, OrderLine.__table__, OrderStatusChange.__table__
_REQUESTS = OneClickRequest.__table__
_REQUEST_COLUMNS = ("idempotency_key", "client_id", "user_id", "product_id", "unit_code",
                    "quantity", "created_at")
_LINE_COLUMNS = ("product_id", "sku", "name", "unit_code", "eaches_per_unit", "quantity",
                 "eaches", "unit_price", "line_total", "pv", "bv")
_OPENED_NOTE = f"placed by {OrderSource.ONECLICK}, open for additions"


@dataclass(frozen=True)
class Press:
    """The request row's own columns (the order, line and answer are added when written)."""

    idempotency_key: str
    client_id: int
    user_id: int
    product_id: int
    unit_code: str
    quantity: int
    created_at: datetime


@dataclass(frozen=True)
class Written:
    order_id: int
    line_id: int


def add_to_open_order(connection: Connection, *, press: Press, order_id: int, line: PricedLine,
                      totals_after: OrderTotals, outcome: str, now: datetime,
                      single_statement: bool | None = None) -> Written | None:
    """Add ``line`` to the open order ``order_id`` (locked by the caller) with its totals set to
    ``totals_after``, and record the press with ``outcome``. None if the order is no longer open
    (nothing written). ``single_statement``: by default on PostgreSQL."""
    if _single_statement(connection, single_statement):
        row = connection.execute(_PG_ADD, {
            **_request_params(press), **_line_params(line), "outcome": outcome,
            "open_order_id": order_id, "subtotal": totals_after.subtotal,
            "shipping_fee": totals_after.shipping, "total": totals_after.total,
            "pv_total": totals_after.pv, "bv_total": totals_after.bv, "updated_at": now}).first()
        return Written(row.order_id, row.order_line_id) if row is not None else None
    added = add_line_to_open_order(connection, order_id=order_id, totals_after=totals_after,
                                   line=line, now=now)
    if added is None:
        return None
    _insert_request(connection, press, added.order_id, added.line_id, outcome)
    return Written(added.order_id, added.line_id)


def open_order(connection: Connection, *, press: Press, line: PricedLine, address: Address,
               card: PaymentMethod, summary: Totals, combine_until: datetime,
               expected_ship_date: date, outcome_without_order: str,
               single_statement: bool | None = None) -> Written:
    """Open a new single-action order with ``line`` and record the press. The answer recorded
    is ``outcome_without_order`` (a JSON object) with the new order's id and number added."""
    if _single_statement(connection, single_statement):
        row = connection.execute(_PG_OPEN, {
            **_request_params(press), **_line_params(line),
            **order_columns(user_id=press.user_id, source=OrderSource.ONECLICK, address=address,
                            card=card, summary=summary),
            "status": OrderStatus.OPEN, "placed_at": press.created_at,
            "updated_at": press.created_at, "combine_until": combine_until,
            "expected_ship_date": expected_ship_date, "payment_attempts": 0,
            "to_status": OrderStatus.OPEN, "changed_at": press.created_at, "note": _OPENED_NOTE,
            "outcome": outcome_without_order}).one()
        return Written(row.order_id, row.order_line_id)
    added = insert_open_order(connection, user_id=press.user_id, source=OrderSource.ONECLICK,
                              line=line, address=address, card=card, summary=summary,
                              placed_at=press.created_at, combine_until=combine_until,
                              expected_ship_date=expected_ship_date)
    _insert_request(connection, press, added.order_id, added.line_id,
                    with_order(outcome_without_order, added.order_id))
    return Written(added.order_id, added.line_id)


def _single_statement(connection: Connection, asked: bool | None) -> bool:
    if asked and connection.dialect.name != "postgresql":
        raise ValueError("only PostgreSQL runs data-modifying common table expressions")
    return connection.dialect.name == "postgresql" if asked is None else asked


def with_order(outcome_without_order: str, order_id: int) -> str:
    """The answer JSON with the order's id and number (as the PostgreSQL statement adds them)."""
    return outcome_without_order[:-1] + (f',"order_id":{order_id},'
                                         f'"order_number":"{order_number(order_id)}"}}')


def _request_params(press: Press) -> dict:
    return {f"request_{name}": getattr(press, name) for name in _REQUEST_COLUMNS}


def _line_params(line: PricedLine) -> dict:
    return {f"line_{name}": value for name, value in line_columns(line).items()}


def _insert_request(connection: Connection, press: Press, order_id: int, line_id: int,
                    outcome: str) -> None:
    connection.execute(_INSERT_REQUEST, {
        **{name: getattr(press, name) for name in _REQUEST_COLUMNS},
        "order_id": order_id, "order_line_id": line_id, "outcome": outcome})


_INSERT_REQUEST = insert(_REQUESTS)


def _typed(table, name: str, prefix: str = ""):
    return bindparam(f"{prefix}{name}", type_=table.c[name].type)


def _line_and_request(order_ids, outcome):
    """The line insert for the order(s) ``order_ids`` yields, and the request insert after it."""
    line = (insert(_LINES)
            .from_select(["order_id", *_LINE_COLUMNS],
                         select(order_ids.c.id, *(_typed(_LINES, n, "line_") for n in _LINE_COLUMNS)))
            .returning(_LINES.c.id, _LINES.c.order_id)
            .cte("line"))
    request = (insert(_REQUESTS)
               .from_select([*_REQUEST_COLUMNS, "order_id", "order_line_id", "outcome"],
                            select(*(_typed(_REQUESTS, n, "request_") for n in _REQUEST_COLUMNS),
                                   line.c.order_id, line.c.id, outcome(line.c.order_id)))
               .returning(_REQUESTS.c.order_id, _REQUESTS.c.order_line_id))
    return line, request


def _pg_add_statement():
    updated = (update(_ORDERS)
               .where(_ORDERS.c.id == bindparam("open_order_id"),
                      _ORDERS.c.status == OrderStatus.OPEN)
               .values({name: _typed(_ORDERS, name) for name in (
                   "subtotal", "shipping_fee", "total", "pv_total", "bv_total", "updated_at")})
               .returning(_ORDERS.c.id)
               .cte("updated"))
    line, request = _line_and_request(updated, lambda order_id: bindparam("outcome", type_=Text))
    return request.add_cte(updated, line)


def _order_number_sql(order_id):
    """``portal.orders.models.order_number`` in SQL: "SO00000042"."""
    digits = cast(order_id, Text)
    return literal("SO", Text) + func.lpad(digits, func.greatest(8, func.length(digits)), "0")


_ORDER_VALUES = ("user_id", "source", "address_id", "ship_moniker", "ship_name", "ship_line1",
                 "ship_line2", "ship_city", "ship_region", "ship_postal_code", "ship_country",
                 "destination_key", "payment_method_id", "payment_label", "subtotal",
                 "shipping_fee", "total", "pv_total", "bv_total", "status", "placed_at",
                 "updated_at", "combine_until", "expected_ship_date", "payment_attempts")


def _pg_open_statement():
    opened = (insert(_ORDERS)
              .values({name: _typed(_ORDERS, name) for name in _ORDER_VALUES})
              .returning(_ORDERS.c.id)
              .cte("opened"))
    history = (insert(_CHANGES)
               .from_select(["order_id", "from_status", "to_status", "changed_at", "note"],
                            select(opened.c.id, literal(None, String), _typed(_CHANGES, "to_status"),
                                   _typed(_CHANGES, "changed_at"), _typed(_CHANGES, "note")))
               .cte("history"))

    def outcome(order_id):  # the answer gets the new order's id and number
        number = _order_number_sql(order_id)
        return cast(cast(bindparam("outcome", type_=Text), JSONB)
                    .op("||")(func.jsonb_build_object("order_id", order_id, "order_number", number)),
                    Text)

    line, request = _line_and_request(opened, outcome)
    return request.add_cte(opened, history, line)


_PG_ADD = _pg_add_statement()
_PG_OPEN = _pg_open_statement()
