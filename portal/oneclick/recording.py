"""Writing one 1-Click press: its order line (in a new open order, or added to the person's
open order to the same place, with the same card, shipping the same day) and the request row
that makes the press happen exactly once.

On PostgreSQL the choice of the order and every write are one statement (data-modifying common
table expressions): a press costs two round trips, the look-up that takes the person's lock and
this. It runs after the lock is held, so it sees every order a twin press committed. SQLite has
no data-modifying CTEs and no round trips: there the service reads the open orders and writes
row by row with the order services and ``insert_request``. Both paths give the same answers and
rows (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Text, bindparam, column, insert, text

from portal.addresses.models import Address
from portal.db import DriverStatement, Money, UTCDateTime, Volume, compact_sql
from portal.oneclick.models import OneClickRequest
from portal.orders.models import OrderSource
from portal.orders.pricing import PricedLine, ShippingRule, totals
from portal.orders.services import line_columns, opened_note, order_columns
from portal.payments.models import PaymentMethod

_REQUESTS = OneClickRequest.__table__
_REQUEST_COLUMNS = ("idempotency_key", "client_id", "user_id", "product_id", "unit_code",
                    "quantity", "created_at")
_OPENED_NOTE = opened_note(OrderSource.ONECLICK)


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


def one_statement_available(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def place_in_one_statement(connection: Connection, *, press: Press, line: PricedLine,
                           address: Address, card: PaymentMethod, ship_date: date,
                           combine_until: datetime, shipping: ShippingRule,
                           outcome_without_order: str) -> str:
    """PostgreSQL: add ``line`` to the person's first open single-action order to ``address``
    with ``card`` that ships on ``ship_date`` and whose window is open (locking it), re-totalled;
    or open a new one whose window lasts until ``combine_until``; and record the press. Returns
    the answer recorded: ``outcome_without_order`` (a JSON object) with the order chosen and its
    state after this line added: order_id, order_number, order_total, lines_in_order, combined,
    combine_until and other_open_orders (the person's open orders here that ship on other
    days: the reason this line is not in them)."""
    new_order = order_columns(user_id=press.user_id, source=OrderSource.ONECLICK, address=address,
                              card=card, summary=totals([line], shipping))
    return _PLACE.first(connection, {
        **{f"request_{name}": getattr(press, name) for name in _REQUEST_COLUMNS},
        **{f"line_{name}": value for name, value in line_columns(line).items()},
        **{f"new_{name}": value for name, value in new_order.items()},
        "now": press.created_at, "ship_date": ship_date, "combine_until": combine_until,
        "flat_fee": shipping.flat_fee, "free_from": shipping.free_from,
        "outcome": outcome_without_order, "note": _OPENED_NOTE})[0]


def insert_request(connection: Connection, press: Press, *, order_id: int, line_id: int,
                   outcome: str) -> None:
    """Row by row: record the press, with the order line it added and the answer it got."""
    connection.execute(_INSERT_REQUEST, {
        **{name: getattr(press, name) for name in _REQUEST_COLUMNS},
        "order_id": order_id, "order_line_id": line_id, "outcome": outcome})


_INSERT_REQUEST = insert(_REQUESTS)

_NUMBER = "'SO' || lpad({0}::text, greatest(8, length({0}::text)), '0')"  # order_number()
_PLACE = DriverStatement(text(compact_sql(f"""
WITH here AS MATERIALIZED (  -- the person's open single-action orders to this place, this card
    SELECT id, expected_ship_date FROM orders
    WHERE user_id = :request_user_id AND source = 'oneclick' AND status = 'open'
      AND address_id = :new_address_id AND payment_method_id = :new_payment_method_id
      AND combine_until > :now
), target AS MATERIALIZED (  -- the first that ships that day, locked: its latest version
    SELECT o.id, o.status, o.subtotal, o.pv_total, o.bv_total, o.combine_until,
           (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS lines
    FROM orders o  -- by primary key alone: no plan may scan everybody's open orders
    WHERE o.id = (SELECT min(h.id) FROM here h WHERE h.expected_ship_date = :ship_date)
    FOR UPDATE
), totalled AS (  -- if still open once locked, its totals with the line (ShippingRule.fee)
    SELECT t.id, t.combine_until, t.lines, s.subtotal, t.pv_total + :line_pv AS pv_total,
           t.bv_total + :line_bv AS bv_total,
           CASE WHEN s.subtotal = 0 OR s.subtotal >= :free_from THEN 0 ELSE :flat_fee END AS fee
    FROM target t CROSS JOIN LATERAL (SELECT t.subtotal + :line_line_total AS subtotal) s
    WHERE t.status = 'open' AND t.combine_until > :now
), updated AS (
    UPDATE orders o SET subtotal = n.subtotal, shipping_fee = n.fee, total = n.subtotal + n.fee,
                        pv_total = n.pv_total, bv_total = n.bv_total, updated_at = :now
    FROM totalled n WHERE o.id = n.id
    RETURNING o.id, o.total, n.combine_until, n.lines + 1 AS lines, true AS combined
), opened AS (  -- or a new order, when none ships that day
    INSERT INTO orders (status, placed_at, updated_at, combine_until, expected_ship_date,
                        payment_attempts,
                        user_id, source, address_id, ship_moniker, ship_name, ship_line1,
                        ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
                        destination_key, payment_method_id, payment_label, subtotal,
                        shipping_fee, total, pv_total, bv_total)
    SELECT 'open', :now, :now, :combine_until, :ship_date, 0,
           :new_user_id, :new_source, :new_address_id, :new_ship_moniker, :new_ship_name,
           :new_ship_line1, :new_ship_line2, :new_ship_city, :new_ship_region,
           :new_ship_postal_code, :new_ship_country, :new_destination_key,
           :new_payment_method_id, :new_payment_label, :new_subtotal, :new_shipping_fee,
           :new_total, :new_pv_total, :new_bv_total
    WHERE NOT EXISTS (SELECT FROM totalled)
    RETURNING id, total, combine_until, 1::bigint AS lines, false AS combined
), chosen AS (
    SELECT * FROM updated UNION ALL SELECT * FROM opened
), history AS (
    INSERT INTO order_status_changes (order_id, from_status, to_status, changed_at, note)
    SELECT id, NULL, 'open', :now, :note FROM opened
), line AS (
    INSERT INTO order_lines (order_id,
                             product_id, sku, name, unit_code, eaches_per_unit, quantity,
                             eaches, unit_price, line_total, pv, bv)
    SELECT c.id,
           :line_product_id, :line_sku, :line_name, :line_unit_code, :line_eaches_per_unit,
           :line_quantity, :line_eaches, :line_unit_price, :line_line_total, :line_pv, :line_bv
    FROM chosen c
    RETURNING id, order_id
)
INSERT INTO oneclick_requests (order_id, order_line_id, outcome,
                               idempotency_key, client_id, user_id, product_id, unit_code,
                               quantity, created_at)
SELECT l.order_id, l.id,
       (CAST(:outcome AS jsonb) || jsonb_build_object(
           'order_id', c.id,
           'order_number', {_NUMBER.format("c.id")},
           'order_total', (c.total / 100)::text || '.' || lpad((c.total % 100)::text, 2, '0'),
           'lines_in_order', c.lines,
           'combined', c.combined,
           'combine_until',
               to_char(c.combine_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
           'other_open_orders', (
               SELECT coalesce(jsonb_agg(jsonb_build_array(
                   {_NUMBER.format("h.id")},
                   to_char(h.expected_ship_date, 'YYYY-MM-DD'))
                   ORDER BY h.id), '[]'::jsonb)
               FROM here h WHERE h.expected_ship_date <> :ship_date)))::text,
       :request_idempotency_key, :request_client_id, :request_user_id, :request_product_id,
       :request_unit_code, :request_quantity, :request_created_at
FROM line l JOIN chosen c ON c.id = l.order_id
RETURNING outcome
""")).bindparams(
    *(bindparam(name, type_=Money()) for name in (
        "line_unit_price", "line_line_total", "new_subtotal", "new_shipping_fee", "new_total",
        "flat_fee", "free_from")),
    *(bindparam(name, type_=Volume()) for name in (
        "line_pv", "line_bv", "new_pv_total", "new_bv_total")),
    *(bindparam(name, type_=UTCDateTime()) for name in ("now", "combine_until",
                                                        "request_created_at"))
).columns(column("outcome", Text())))
