""""Ship now" charges at once: it asks first, saying how much, on which card, for which date."""

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from portal.autoship.models import AutoshipProfile
from portal.orders.models import Order
from tests.autoship.test_views import create
from tests.confirmation_pages import confirmation_form
from tests.conftest import page_text, post_form
from tests.factories import make_product


def orders_in_all(session) -> int:
    return session.scalar(select(func.count()).select_from(Order))


def test_ship_now_without_javascript_asks_with_the_amount_then_ships_when_confirmed(client, session, shopper):
    product = make_product(session, name="Omega-3", each_price=Decimal("10.00"))
    location = create(client, product).headers["Location"]
    profile = session.scalar(select(AutoshipProfile))
    due = re.search(r'name="due" value="([0-9-]+)"', client.get(location).get_data(as_text=True)).group(1)

    asked = post_form(client, f"{location}/ship-now", {"due": due}, page=location)

    assert asked.status_code == 200
    text = page_text(asked.get_data(as_text=True))
    assert "Ship “Monthly essentials” now and pay $25.95?" in text  # two at $10.00, $5.95 shipping
    assert "An order of 1 item is placed today and $25.95 (shipping included) is charged at once " \
           "to Visa ending 4242." in text
    assert f"It is the shipment of {date.fromisoformat(due):%A, %B %-d, %Y}: that date will not ship again." in text
    assert "Yes, ship now and pay $25.95" in text and "No, keep the schedule" in text
    session.expire_all()
    assert orders_in_all(session) == 0 and profile.next_run_date.isoformat() == due

    action, fields = confirmation_form(asked.get_data(as_text=True))
    assert (action, fields["due"], fields["confirm"]) == (f"{location}/ship-now", due, "yes")
    shipped = client.post(action, data=fields)

    assert shipped.status_code == 303
    order = session.scalar(select(Order))
    assert (order.total, order.status, order.autoship_due_date.isoformat()) == (Decimal("25.95"), "paid", due)


def test_with_htmx_the_button_asks_in_the_browser_and_sends_its_confirmation(client, session, shopper):
    product = make_product(session, name="Omega-3", each_price=Decimal("10.00"))
    location = create(client, product).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    button_form = re.search(r'<form[^>]*ship-now[^>]*>', page).group(0)
    assert 'hx-confirm="Ship now? $25.95 (shipping included) is charged to Visa ending 4242 at once."' in button_form
    assert '''hx-vals='{"confirm": "yes"}\'''' in button_form

    response = post_form(client, f"{location}/ship-now", {"confirm": "yes"}, page=location,
                         headers={"HX-Request": "true"})

    assert response.status_code == 200
    order = session.scalar(select(Order))
    assert f"Order {order.number} placed and paid" in page_text(response.get_data(as_text=True))


def test_a_ship_now_that_would_be_refused_is_refused_at_the_question(client, session, shopper):
    product = make_product(session)
    location = create(client, product).headers["Location"]
    post_form(client, f"{location}/pause", {"resume_on": "", "confirm": "yes"}, page=location)

    asked = post_form(client, f"{location}/ship-now", page=location)

    assert asked.status_code == 422
    assert "Resume the standing order before shipping it." in page_text(asked.get_data(as_text=True))
    assert orders_in_all(session) == 0
