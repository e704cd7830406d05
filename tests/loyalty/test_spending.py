"""Points pay for products: at checkout ("Pay with points" on chosen items) and on a standing
order ("Use my points on this order", applied when its order is charged). Items paid with
points cost nothing, carry no PV or BV, and the order's totals still add up."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from portal.cart.services import add_to_cart
from portal.clock import frozen_at
from portal.loyalty.models import PointsAccount, PointsEntry
from portal.loyalty.standing import choose_points
from portal.mail.models import OutboxMessage  # noqa: F401  (the confirmation mail is queued)
from portal.orders import charging
from portal.orders.models import Order
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_product
from tests.loyalty.conftest import line, paid_standing_order, standing_order

UTC = timezone.utc
MARCH = datetime(2026, 3, 5, 15, tzinfo=UTC)


def balance(session, person):
    return session.scalar(select(PointsAccount.balance).where(PointsAccount.user_id == person.id))


def with_points(session, person, points_order_price="100.00"):
    """``person`` with 1,000 points (a paid $100 standing order at 10%)."""
    paid_standing_order(session, person, MARCH, price=points_order_price)
    assert balance(session, person) == 1000


def test_checkout_pays_the_chosen_items_with_points_and_the_card_the_rest(client, session, holder):
    with_points(session, holder)
    tea = make_product(session, name="Tea", each_price=Decimal("4.50"), each_pv=Decimal("4.00"))
    soap = make_product(session, name="Soap", each_price=Decimal("20.00"), each_pv=Decimal("15.00"))
    for product, quantity in ((tea, 2), (soap, 1)):
        add_to_cart(session, user=holder, product_id=product.id, unit_code="each", quantity=quantity,
                    max_quantity=999)
    session.commit()
    log_in(client, holder)
    page = client.get("/checkout/").get_data(as_text=True)
    assert "You have 1,000 points" in page_text(page) and "900 points" in page_text(page)
    response = post_form(client, "/checkout/", {
        "address_id": holder.home.id, "card_id": holder.card.id, "idempotency_key": "k" * 20,
        "points_items": f"{tea.id}:each"}, page="/checkout/")
    assert response.status_code == 303, response.get_data(as_text=True)
    order = session.scalars(select(Order).where(Order.source == "checkout")).one()
    paid_line = next(line for line in order.lines if line.product_id == tea.id)
    assert (paid_line.quantity, paid_line.unit_price, paid_line.line_total, paid_line.pv) == (2, 0, 0, 0)
    assert (order.subtotal, order.shipping_fee, order.total, order.pv_total) == \
        (Decimal("20.00"), Decimal("5.95"), Decimal("25.95"), Decimal("15.00"))
    assert order.status == "paid"
    spent = session.scalars(select(PointsEntry).where(PointsEntry.kind == "redeemed")).one()
    assert (spent.points, spent.order_id) == (-900, order.id)
    assert balance(session, holder) == 100


def test_checkout_with_more_points_than_the_balance_places_nothing(client, session, holder):
    with_points(session, holder)
    soap = make_product(session, name="Soap", each_price=Decimal("20.00"))
    add_to_cart(session, user=holder, product_id=soap.id, unit_code="each", quantity=1, max_quantity=999)
    session.commit()
    log_in(client, holder)
    response = post_form(client, "/checkout/", {
        "address_id": holder.home.id, "card_id": holder.card.id, "idempotency_key": "k" * 20,
        "points_items": f"{soap.id}:each"}, page="/checkout/")
    assert response.status_code == 409
    assert "You do not have 2,000 points to spend" in page_text(response.get_data(as_text=True))
    assert session.scalars(select(Order).where(Order.source == "checkout")).all() == []
    assert balance(session, holder) == 1000


def test_an_order_paid_wholly_with_points_is_paid_without_a_charge_and_ships_free(client, session, holder):
    with_points(session, holder)
    tea = make_product(session, name="Tea", each_price=Decimal("4.50"))
    add_to_cart(session, user=holder, product_id=tea.id, unit_code="each", quantity=1, max_quantity=999)
    session.commit()
    log_in(client, holder)
    response = post_form(client, "/checkout/", {
        "address_id": holder.home.id, "card_id": holder.card.id, "idempotency_key": "k" * 20,
        "points_items": f"{tea.id}:each"}, page="/checkout/")
    assert response.status_code == 303
    order = session.scalars(select(Order).where(Order.source == "checkout")).one()
    assert (order.status, order.total, order.charge_id) == ("paid", 0, None)
    assert balance(session, holder) == 550


def test_a_standing_order_that_chose_points_pays_the_items_they_cover_when_charged(app, session, holder):
    with_points(session, holder)
    choose_points(session, holder.profile, True)
    order = standing_order(session, holder, lines=[line(holder.product, price="6.00", pv="5"),
                                                   line(holder.product, price="30.00", pv="20"),
                                                   line(holder.product, price="3.00", pv="2")])
    session.commit()
    with frozen_at(MARCH):
        charging.charge(app, session, [order.id], MARCH.date())
        session.commit()
    session.refresh(order)
    # 600 points for the first line, 3,000 too many for the second, 300 for the third.
    assert [(l.line_total, l.pv) for l in order.lines] == [(0, 0), (Decimal("30.00"), 20), (0, 0)]
    assert (order.subtotal, order.shipping_fee, order.total, order.status) == \
        (Decimal("30.00"), Decimal("5.95"), Decimal("35.95"), "paid")
    entries = [(e.kind, e.points) for e in session.scalars(select(PointsEntry).order_by(PointsEntry.id))]
    assert entries[1:] == [("redeemed", -900), ("earned", 300)]   # then it earns on what was paid
    # Charged again (a retry): points are not spent twice.
    with frozen_at(MARCH):
        charging.charge(app, session, [order.id], MARCH.date())
        session.commit()
    assert session.scalars(select(PointsEntry).where(PointsEntry.kind == "redeemed")).all().__len__() == 1


def test_a_standing_order_that_did_not_choose_points_is_charged_in_full(app, session, holder):
    with_points(session, holder)
    order = standing_order(session, holder, price="6.00")
    session.commit()
    with frozen_at(MARCH):
        charging.charge(app, session, [order.id], MARCH.date())
        session.commit()
    session.refresh(order)
    assert order.total == Decimal("11.95") and balance(session, holder) == 1060
