"""The writes of a press: on PostgreSQL one statement chooses the order and writes every row;
row by row (SQLite's way) gives the same answers and the same rows."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update

from portal.oneclick import recording
from portal.oneclick.models import OneClickRequest
from portal.orders.models import Order, OrderStatusChange, order_number
from portal.orders.states import OrderStatus
from tests.factories import make_product
from tests.oneclick.conftest import NOW, TODAY, make_shopper, place
from tests.oneclick.test_services import expect_arrival

PRESSES = 40


@pytest.fixture
def postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("only PostgreSQL runs data-modifying common table expressions")


def products(session):
    """In stock at prices that cross the free-shipping line, one awaited on an arrival and one
    with no arrival known: three ship dates."""
    made = [make_product(session, each_price=Decimal(price), case_size=6,
                         case_price=Decimal(price) * 5, on_hand=100_000)
            for price in ("4.99", "19.95", "49.00", "0.00")]
    awaited = make_product(session, each_price=Decimal("12.00"), on_hand=0)
    expect_arrival(session, awaited, TODAY + timedelta(days=5))
    made += [awaited, make_product(session, each_price=Decimal("7.50"), on_hand=0)]
    session.commit()
    return made


def shopping(session, shopper, items, seed: int) -> list[dict]:
    """A random run of presses (new orders, lines added, repeats, a closed window, a cancelled
    order) and the answers, with the order numbers replaced by their place in this run."""
    rng = random.Random(seed)
    answers, orders, now, pressed = [], {}, NOW, []
    for n in range(PRESSES):
        if n == PRESSES // 2:  # the first orders' windows close: new ones open
            now += timedelta(minutes=91)
        if n == PRESSES * 3 // 4:  # the person cancels an open order: the next press opens one
            newest = session.scalar(select(func.max(Order.id)).where(Order.user_id == shopper.user.id))
            session.execute(update(Order).where(Order.id == newest)
                            .values(status=OrderStatus.CANCELLED, updated_at=now))
        earlier = rng.randrange(n) if n and rng.random() < 0.1 else None
        if earlier is not None:  # a double click or a retry: the same button again
            key, product, unit, quantity = pressed[earlier]
        else:
            key = f"key-{shopper.user.id}-{seed}-{n}-{'0' * 10}"
            product, unit = rng.choice(items), rng.choice(("each", "each", "case"))
            quantity = rng.randint(1, 3)
        pressed.append((key, product, unit, quantity))
        confirmation, repeat = place(session, shopper, key, product=product, unit=unit,
                                     quantity=quantity, now=now)
        session.commit()
        answers.append({**normalised(confirmation, orders), "repeat": repeat})
    return answers


def normalised(confirmation, orders: dict) -> dict:
    """The answer, with order ids as their order of appearance and times as values."""
    values = dict(vars(confirmation))
    values["order_id"] = orders.setdefault(values["order_id"], len(orders))
    values["order_number"] = None
    values["combine_until"] = datetime.fromisoformat(values["combine_until"])
    values["order_total"] = Decimal(values["order_total"])
    values["other_open_orders"] = [(orders.setdefault(int(number[2:]), len(orders)), day)
                                   for number, day in values["other_open_orders"]]
    return values


def rows(session, user_id: int) -> list:
    def plain(obj, ignored=("id", "order_id", "user_id", "order_line_id", "address_id",
                            "payment_method_id", "idempotency_key", "client_id")) -> dict:
        values = {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in ignored}
        if "outcome" in values:  # the recorded answer, as the person got it
            outcome = json.loads(values.pop("outcome"))
            values["answer_total"] = Decimal(outcome["order_total"])
            values["answer_until"] = datetime.fromisoformat(outcome["combine_until"])
            values["answer_lines"] = outcome["lines_in_order"]
            values["answer_others"] = len(outcome["other_open_orders"])
            values["answer_number_is_the_order"] = outcome["order_number"] == order_number(obj.order_id)
        return values

    session.expire_all()
    found = []
    for order in session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id)):
        found.append({"order": plain(order), "lines": [plain(line) for line in order.lines],
                      "history": [plain(change) for change in order.history],
                      "requests": [plain(request) for request in session.scalars(
                          select(OneClickRequest).where(OneClickRequest.order_id == order.id)
                          .order_by(OneClickRequest.id))]})
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_statement_answers_and_writes_as_row_by_row_does(session, redis, postgresql,
                                                             monkeypatch, seed):
    items = products(session)
    one, other = (make_shopper(session, redis, first_name="Dana", last_name="Diaz") for _ in "12")
    session.commit()
    in_one_statement = shopping(session, one, items, seed)
    monkeypatch.setattr(recording, "one_statement_available", lambda connection: False)
    row_by_row = shopping(session, other, items, seed)
    assert in_one_statement == row_by_row
    assert len({answer["order_id"] for answer in row_by_row}) >= 4  # it did open and combine
    assert any(answer["combined"] for answer in row_by_row)
    assert any(answer["other_open_orders"] for answer in row_by_row)
    assert any(answer["repeat"] for answer in row_by_row)
    expected, written = rows(session, other.user.id), rows(session, one.user.id)
    assert written == expected
    assert all(request["answer_number_is_the_order"]
               for order in written for request in order["requests"])


def test_the_order_number_is_formatted_as_python_does_past_eight_digits(session, postgresql):
    for order_id in (1, 42, 99_999_999, 123_456_789):
        number = text(f"SELECT {recording._NUMBER.format('n')} FROM (SELECT CAST(:id AS bigint) AS n) o")
        assert session.scalar(number, {"id": order_id}) == order_number(order_id)


def test_the_history_says_how_the_order_was_placed(session, redis, shopper):
    confirmation, _ = place(session, shopper)
    [change] = session.scalars(select(OrderStatusChange).where(
        OrderStatusChange.order_id == confirmation.order_id)).all()
    assert change.to_status == OrderStatus.OPEN and change.from_status is None
    assert change.note == "placed by oneclick, open for additions" and change.changed_at == NOW


def test_the_statement_is_short_enough_for_psycopg_to_keep_its_parse():
    """psycopg converts a statement's placeholders on every execution unless it is at most
    4,096 characters with at most 50 parameters, when it caches the conversion: for the press's
    statement that conversion had been a sixth of the server's CPU per press."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH, MAX_CACHED_STATEMENT_PARAMS
    from sqlalchemy.dialects.postgresql import psycopg as dialect

    compiled = recording._PLACE.statement.compile(dialect=dialect.dialect())
    assert len(str(compiled).encode()) <= MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= MAX_CACHED_STATEMENT_PARAMS
