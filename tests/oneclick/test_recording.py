"""The writes of one press: on PostgreSQL a single statement, elsewhere one per row; both
write the same rows."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.oneclick import recording
from portal.oneclick.models import OneClickRequest
from portal.oneclick.queries import client_by_hash
from portal.orders.models import Order, OrderLine, OrderStatusChange, order_number
from portal.orders.pricing import PricedLine, totals
from portal.orders.services import totals_with_line
from portal.orders.states import OrderStatus
from tests.oneclick.conftest import NOW, RULES

SHIPS = date(2026, 3, 2)
IGNORED = {"id", "order_id", "order_line_id", "idempotency_key"}  # differ between the two runs


def each_of(product):
    return next(unit for unit in product.units if unit.code == "each")


def priced(shopper, quantity: int) -> PricedLine:
    each = each_of(shopper.product)
    return PricedLine(product_id=shopper.product.id, sku=shopper.product.sku,
                      name=shopper.product.name, unit_code="each", eaches_per_unit=1,
                      quantity=quantity, unit_price=each.price, unit_pv=each.pv, unit_bv=each.bv)


def press(session, shopper, key: str, line: PricedLine) -> recording.Press:
    return recording.Press(idempotency_key=key,
                           client_id=client_by_hash(session, shopper.token_hash).id,
                           user_id=shopper.user.id, product_id=line.product_id,
                           unit_code=line.unit_code, quantity=line.quantity, created_at=NOW)


def two_presses(session, shopper, prefix: str, single_statement: bool) -> int:
    """Open an order with one press and add a second; the order's id."""
    connection = session.connection()
    first, second = priced(shopper, 2), priced(shopper, 3)
    opened = recording.open_order(
        connection, press=press(session, shopper, f"{prefix}-first-key-0000", first), line=first,
        address=shopper.address, card=shopper.card, summary=totals([first], RULES.shipping),
        combine_until=NOW + timedelta(minutes=90), expected_ship_date=SHIPS,
        outcome_without_order='{"said":"opened"}', single_statement=single_statement)
    after = totals_with_line(subtotal=first.line_total, pv_total=first.pv, bv_total=first.bv,
                             line=second, shipping=RULES.shipping)
    added = recording.add_to_open_order(
        connection, press=press(session, shopper, f"{prefix}-second-key-000", second),
        order_id=opened.order_id, line=second, totals_after=after, outcome='{"said":"added"}',
        now=NOW + timedelta(minutes=1), single_statement=single_statement)
    assert added.order_id == opened.order_id and added.line_id != opened.line_id
    return opened.order_id


def rows(session, order_id: int) -> dict:
    def plain(obj) -> dict:
        values = {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in IGNORED}
        if "outcome" in values:
            values["outcome"] = json.loads(values["outcome"])
        return values

    session.expire_all()
    order = session.get(Order, order_id)
    return {"order": plain(order),
            "lines": [plain(line) for line in order.lines],
            "history": [plain(change) for change in order.history],
            "requests": [plain(request) for request in session.scalars(
                select(OneClickRequest).where(OneClickRequest.order_id == order_id)
                .order_by(OneClickRequest.id))]}


def test_one_statement_writes_what_the_row_by_row_writes_do(session, redis, shopper):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("only PostgreSQL runs data-modifying common table expressions")
    by_rows = two_presses(session, shopper, "rows", single_statement=False)
    in_one = two_presses(session, shopper, "once", single_statement=True)
    expected, written = rows(session, by_rows), rows(session, in_one)
    for found, order_id in ((expected, by_rows), (written, in_one)):
        first, second = found["requests"]
        assert first["outcome"] == {"said": "opened", "order_id": order_id,
                                    "order_number": order_number(order_id)}
        first["outcome"] = None
    assert written == expected
    assert written["order"]["status"] == OrderStatus.OPEN and len(written["lines"]) == 2
    assert written["order"]["subtotal"] == 5 * each_of(shopper.product).price


@pytest.mark.parametrize("single_statement", [False, True])
def test_a_line_for_an_order_no_longer_open_is_not_written(session, redis, shopper,
                                                           single_statement):
    if single_statement and session.get_bind().dialect.name != "postgresql":
        pytest.skip("only PostgreSQL runs data-modifying common table expressions")
    order_id = two_presses(session, shopper, "gone", single_statement)
    session.get(Order, order_id).status = OrderStatus.PENDING_PAYMENT
    session.flush()
    line = priced(shopper, 1)
    added = recording.add_to_open_order(
        session.connection(), press=press(session, shopper, "gone-third-key-0000", line),
        order_id=order_id, line=line, totals_after=totals([line], RULES.shipping),
        outcome="{}", now=NOW, single_statement=single_statement)
    assert added is None
    assert len(session.scalars(select(OrderLine).where(OrderLine.order_id == order_id)).all()) == 2
    assert session.scalar(select(OneClickRequest).where(
        OneClickRequest.idempotency_key == "gone-third-key-0000")) is None


def test_order_numbers_past_eight_digits_match_python(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the number is formatted in SQL only on PostgreSQL")
    for order_id in (1, 42, 99_999_999, 123_456_789):
        sql = session.scalar(select(recording._order_number_sql(order_id)))
        assert sql == order_number(order_id)


def test_the_history_says_how_the_order_was_placed(session, redis, shopper):
    order_id = two_presses(session, shopper, "said", single_statement=None)
    [change] = session.scalars(select(OrderStatusChange).where(
        OrderStatusChange.order_id == order_id)).all()
    assert change.to_status == OrderStatus.OPEN and change.note == "placed by oneclick, open for additions"
