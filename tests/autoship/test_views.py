"""Every standing-order action works as a plain form post and as an htmx interaction."""

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from portal.autoship.models import AutoshipProfile
from portal.autoship.profiles import schedule_of
from portal.clock import company_today
from portal.mail.models import OutboxMessage
from portal.orders.models import Order
from tests.conftest import csrf_token, log_in, page_text, post_form
from tests.factories import make_address, make_admin, make_card, make_product, make_user


def create(client, product, **overrides):
    today = company_today()
    data = {"name": "Monthly essentials", "product_id": product.id, "unit": "each", "quantity": 2,
            "kind": "every_months", "interval": 1, "day": 1, "nth": "1", "weekday": "MO", "rrule": "",
            "regularity": "calendar", "first_date": (today + timedelta(days=10)).isoformat(),
            "shipping_method": "standard", "price_policy": "run_time"}
    page = client.get("/autoship/new").get_data(as_text=True)
    data["address_id"] = re.search(r'name="address_id"[^>]*>\s*<option[^>]*value="(\d+)"', page).group(1)
    data["card_id"] = re.search(r'name="card_id"[^>]*>\s*<option[^>]*value="(\d+)"', page).group(1)
    data.update(overrides)
    return post_form(client, "/autoship/new", data, page="/autoship/new")


def test_a_member_creates_a_profile_and_sees_dates_totals_and_history(client, session, shopper):
    product = make_product(session, name="Omega-3")
    response = create(client, product)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Omega-3" in page and "Next shipment" in page and "Total per shipment" in page
    assert "created" in page and page.count("Skip") >= 6


def test_bad_schedules_and_dates_are_refused_beside_the_fields(client, session, shopper):
    product = make_product(session)
    past = (company_today() - timedelta(days=3)).isoformat()
    for overrides, message in (({"first_date": past}, "in the past"),
                               ({"kind": "rrule", "rrule": "FREQ=YEARLY"}, "YEARLY"),
                               ({"kind": "rrule", "rrule": "garbage"}, "is not a NAME=VALUE rule part"),
                               ({"quantity": 0}, "1 to 999"),
                               ({"product_id": 999999}, "do not sell"),
                               ({"first_date": "not a date"}, "Not a valid date value."),
                               ({"first_date": "9999-12-31"}, "between 1900 and 2199"),
                               ({"kind": "monthly_day", "day": "1" + "0" * 400}, "Not a valid integer"),
                               ({"interval": "1e3"}, "Not a valid integer"),
                               ({"product_id": "9223372036854775808"}, "Invalid Choice: could not coerce."),
                               ({"address_id": "²"}, "Invalid Choice: could not coerce.")):
        response = create(client, product, **overrides)
        assert response.status_code in (404, 422), overrides
        assert message in response.get_data(as_text=True), overrides
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0


def test_the_preview_shows_the_next_six_dates_before_saving(client, session, shopper):
    response = client.get("/autoship/preview", query_string={
        "kind": "monthly_day", "interval": 1, "day": 31, "regularity": "calendar", "first_date": "2027-01-31"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ["Jan 31, 2027", "Feb 28, 2027", "Mar 31, 2027", "Apr 30, 2027"] == re.findall(r"\b\w{3} \d+, 2027", body)[:4]
    bad = client.get("/autoship/preview", query_string={"kind": "rrule", "rrule": "FREQ=HOURLY", "first_date": "2027-01-01"})
    assert bad.status_code == 422 and "HOURLY" in bad.get_data(as_text=True)


def test_htmx_actions_answer_the_refreshed_profile(client, htmx, session, shopper):
    product = make_product(session)
    location = create(client, product).headers["Location"]
    profile = session.scalar(select(AutoshipProfile))
    htmx.set_cookie("session", client.get_cookie("session").value)
    token = csrf_token(client, location)
    response = htmx.post(f"{location}/items", data={"product_id": product.id, "unit": "case", "quantity": 1,
                                                    "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="profile"' in body and "<html" not in body
    session.expire_all()
    assert len(profile.items) == 2
    next_run = profile.next_run_date
    # confirmed: a skip that takes PV out of this month asks first (tests/volume/test_qualification_notes.py)
    response = htmx.post(f"{location}/skip", data={"day": next_run.isoformat(), "csrf_token": token,
                                                   "confirm": "yes"})
    assert response.status_code == 200
    session.expire_all()
    assert profile.next_run_date > next_run


def selected(page: str, name: str) -> str | None:
    """The value of the option chosen in the select ``name`` of ``page``, if any."""
    choices = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    chosen = re.search(r'<option selected value="([^"]*)"', choices)
    return chosen and chosen.group(1)


def test_plain_posts_for_pause_resume_next_date_rename_delivery_and_cancel(client, session, shopper):
    product = make_product(session, name="Omega-3", each_price=Decimal("10.00"))
    location = create(client, product).headers["Location"]
    profile = session.scalar(select(AutoshipProfile))
    first, later = profile.next_run_date, company_today() + timedelta(days=40)

    def press(action, **data) -> str:
        """Post the action's form as a browser without JavaScript does; the page it lands on."""
        response = post_form(client, f"{location}/{action}", data, page=location)
        assert response.status_code == 303, (action, response.get_data(as_text=True)[-500:])
        return client.get(response.headers["Location"]).get_data(as_text=True)

    # confirmed: what takes PV out of this month asks first (tests/volume/test_qualification_notes.py)
    paused = page_text(press("pause", resume_on=later.isoformat(), confirm="yes"))
    assert "Standing order paused." in paused and "Monthly essentials Paused" in paused
    after = schedule_of(profile).first_on_or_after(later)  # the first shipment after the resume
    assert f"Paused until {later:%A, %B %-d, %Y} — first shipment after it: {after:%A, %B %-d, %Y}" in paused
    assert "Nothing scheduled." not in paused

    resumed = page_text(press("resume"))
    assert "Standing order active again." in resumed and "Monthly essentials Active" in resumed
    assert f"Next shipment: {first:%A, %B %-d, %Y}" in resumed  # the calendar date it had

    moved = page_text(press("next-date", new_date=later.isoformat(), mode="once", confirm="yes"))
    assert "Next shipment date changed." in moved
    assert f"Next shipment: {later:%A, %B %-d, %Y}" in moved and f"{first:%a, %b %-d, %Y}" not in moved

    renamed = page_text(press("rename", name="Household"))
    assert "Renamed." in renamed and "Household Active" in renamed
    assert "renamed: Monthly essentials → Household" in renamed  # in its history

    delivery = press("delivery", address_id=profile.address_id, card_id=profile.payment_method_id,
                     shipping_method="express", price_policy="locked", out_of_stock_policy="skip_item")
    assert (selected(delivery, "shipping_method"), selected(delivery, "price_policy"),
            selected(delivery, "out_of_stock_policy")) == ("express", "locked", "skip_item")
    delivery = page_text(delivery)
    assert "Delivery and payment saved." in delivery
    assert f"Omega-3 {product.sku} · locked at $10.00" in delivery
    assert "Total per shipment (locked prices) $25.95" in delivery

    cancelled = page_text(press("cancel"))
    assert "Standing order cancelled." in cancelled and "Household Cancelled" in cancelled
    assert "Nothing scheduled." in cancelled and "Reactivate" in cancelled and "Ship now" not in cancelled

    reactivated = page_text(press("resume"))
    assert "Standing order active again." in reactivated and "Household Active" in reactivated
    assert f"Next shipment: {first:%A, %B %-d, %Y}" in reactivated  # the first scheduled date after today
    session.expire_all()
    assert (profile.name, profile.shipping_method, profile.price_policy, profile.status) == (
        "Household", "express", "locked", "active")


def test_ship_now_places_a_paid_order(client, session, shopper):
    product = make_product(session, name="Omega-3", each_price=Decimal("10.00"))
    location = create(client, product).headers["Location"]
    due, following = re.findall(r'name="day" value="([0-9-]+)"', client.get(location).get_data(as_text=True))[:2]

    response = post_form(client, f"{location}/ship-now", {"confirm": "yes"}, page=location)

    assert response.status_code == 303
    order = session.scalar(select(Order))
    assert (order.source, order.status, order.total, order.autoship_due_date.isoformat()) == (
        "autoship", "paid", Decimal("25.95"), due)  # two at $10.00 and $5.95 shipping
    page = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Order {order.number} placed and paid: $25.95." in page
    assert f"{order.number} for {order.autoship_due_date:%b %-d, %Y} · $25.95 · Paid" in page
    assert f"Next shipment: {date.fromisoformat(following):%A, %B %-d, %Y}" in page
    mail = session.scalar(select(OutboxMessage))  # committed with the order, as a run's is
    assert (mail.recipient, mail.subject) == (shopper.email, f"Order {order.number} is paid")
    assert f"We charged $25.95 to your {order.payment_label} for order {order.number}" in mail.body


def test_make_this_my_autoship_turns_the_cart_into_a_profile(client, session, shopper):
    product = make_product(session)
    post_form(client, "/cart/add", {"product_id": product.id, "unit": "case", "quantity": 1})
    response = post_form(client, "/autoship/from-cart", page="/cart/")
    assert response.status_code == 303
    profile = session.scalar(select(AutoshipProfile))
    assert profile.items[0].unit_code == "case"
    page = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Your cart is now a standing order: first shipment {profile.next_run_date:%B %-d}" in page
    assert post_form(client, "/autoship/from-cart", page="/cart/").status_code == 303  # a second profile
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 2


def test_an_empty_cart_cannot_become_a_profile(client, session, shopper):
    response = post_form(client, "/autoship/from-cart", page="/cart/")
    assert response.status_code == 422
    page = page_text(response.get_data(as_text=True))
    assert "No standing order created" in page
    assert "Your cart is empty: add what you want delivered regularly first." in page
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0


def test_subscribe_from_the_product_page_new_or_into_an_existing_profile(client, session, shopper):
    product = make_product(session)
    page = client.get(f"/shop/products/{product.id}").get_data(as_text=True)
    assert "Subscribe" in page and "A new standing order" in page
    assert post_form(client, "/autoship/subscribe", {"product_id": product.id, "unit": "each",
                                                     "quantity": 1, "profile": "new"}).status_code == 303
    profile = session.scalar(select(AutoshipProfile))
    response = post_form(client, "/autoship/subscribe", {"product_id": product.id, "unit": "case", "quantity": 1,
                                                         "profile": profile.id})
    assert response.status_code == 303
    session.expire_all()
    assert len(profile.items) == 2
    assert f"Added to “{profile.name}”, next shipment {profile.next_run_date:%B %-d}." \
        in page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    for bad in ({"product_id": "x", "unit": "each", "quantity": 1, "profile": "new"},
                {"product_id": product.id, "unit": "each", "quantity": 1, "profile": "abc"},
                {"product_id": product.id, "unit": "pallet", "quantity": 1, "profile": "new"},
                {"product_id": product.id, "unit": "each", "quantity": -4, "profile": "new"}):
        refused = post_form(client, "/autoship/subscribe", bad)
        assert refused.status_code == 422 and "Not subscribed" in refused.get_data(as_text=True), bad
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 1 and len(profile.items) == 2


def test_subscribe_and_the_new_page_take_only_real_ids(client, session, shopper):
    product = make_product(session)
    page = f"/shop/products/{product.id}"
    for data in ({"product_id": "²", "unit": "each", "quantity": 1, "profile": "new"},
                 {"product_id": product.id, "unit": "each", "quantity": 1, "profile": "①"},
                 {"product_id": "9223372036854775808", "unit": "each", "quantity": 1, "profile": "new"}):
        refused = post_form(client, "/autoship/subscribe", data, page=page)
        assert refused.status_code == 422 and "Choose a product and a standing order." in refused.get_data(
            as_text=True), data
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0
    new = client.get("/autoship/new?product=²")
    assert new.status_code == 200 and selected(new.get_data(as_text=True), "product_id") is None  # none chosen


def test_another_persons_profile_is_404_for_every_action(client, session, redis, shopper):
    owner = make_user(session)
    make_address(session, owner)
    make_card(session, owner, redis)
    product = make_product(session)
    from tests.autoship.conftest import new_profile
    from portal.addresses.services import address_book
    from portal.payments.services import wallet
    owner.home, owner.card = address_book(session, owner)[0], wallet(session, owner)[0]
    profile = new_profile(session, owner, product)
    item = profile.items[0]
    assert client.get(f"/autoship/{profile.id}").status_code == 404
    for action in ("items", f"items/{item.id}", f"items/{item.id}/remove", "schedule", "next-date", "skip",
                   "unskip", "pause", "resume-date", "resume", "cancel", "ship-now", "rename", "delivery"):
        assert post_form(client, f"/autoship/{profile.id}/{action}", {"quantity": 1}).status_code == 404, action
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_only_members_and_ibos_hold_standing_orders(client, session):
    assert client.get("/autoship/").status_code == 302
    log_in(client, make_admin(session))
    assert client.get("/autoship/").status_code == 403


def test_the_calendar_link_serves_ics_and_stops_when_revoked(client, session, shopper):
    product = make_product(session)
    create(client, product)
    response = post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    url = re.search(r"(/autoship/calendar/[A-Za-z0-9_-]+\.ics)", page).group(1)
    anonymous = client.application.test_client()
    feed = anonymous.get(url)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert "BEGIN:VEVENT" in feed.get_data(as_text=True)
    post_form(client, "/autoship/calendar", {"action": "revoke", "confirm": "yes"}, page="/autoship/")
    assert anonymous.get(url).status_code == 404
    assert anonymous.get("/autoship/calendar/nonsense.ics").status_code == 404


def test_the_dashboard_lists_upcoming_shipments(client, session, shopper):
    create(client, make_product(session))
    assert "Monthly essentials" in client.get("/home").get_data(as_text=True)


def test_edits_inside_the_cutoff_are_refused_with_a_countdown_message(client, session, shopper, clock):
    product = make_product(session)
    now = datetime(2026, 12, 7, 18, tzinfo=timezone.utc)
    clock(now)
    location = create(client, product, first_date="2026-12-09").headers["Location"]
    clock(now + timedelta(days=1))  # a day later, the shipment is a day away
    log_in(client, shopper)  # the sign-in of the day before has lapsed
    page = client.get(location).get_data(as_text=True)
    assert "being prepared" in page and "Changes that affect it closed 2 days before it." in page
    assert 'class="secondary" disabled>Add item' in page and "disabled>Save schedule" in page
    response = post_form(client, f"{location}/items", {"product_id": product.id, "unit": "case", "quantity": 1},
                         page=location)
    assert response.status_code == 422 and "closed 2 days before" in response.get_data(as_text=True)


def test_a_standing_order_open_for_changes_shows_the_days_left_and_enabled_buttons(client, session, shopper):
    product = make_product(session)
    location = create(client, product, first_date=(company_today() + timedelta(days=5)).isoformat()).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "you can change it for <strong>3 more days</strong>" in page and "being prepared" not in page
    assert 'class="secondary" >Add item' in page and "disabled>" not in page
    listing = client.get("/autoship/").get_data(as_text=True)
    assert "changes possible for 3 more days" in listing


def test_ship_now_pressed_again_from_the_same_page_ships_once_and_says_so(app, client, session, shopper):
    """The page offers its next date; a second press from it (another tab, a second device)
    finds that date shipped, rather than shipping the occurrence after it."""
    product = make_product(session)
    location = create(client, product).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    offered = re.search(r'name="due" value="([0-9-]+)"', page).group(1)
    other_tab = app.test_client()
    log_in(other_tab, shopper)
    form = {"due": offered, "confirm": "yes", "csrf_token": csrf_token(client, location)}

    first = client.post(f"{location}/ship-now", data=form)
    second = other_tab.post(f"{location}/ship-now",
                            data={**form, "csrf_token": csrf_token(other_tab, location)})

    assert first.status_code == 303 and second.status_code == 409
    order = session.scalar(select(Order))
    assert f"Order {order.number} placed and paid" in client.get(first.headers["Location"]).get_data(as_text=True)
    assert order.autoship_due_date.isoformat() == offered
    assert f"already shipped for {order.autoship_due_date:%B %-d, %Y}: order {order.number}." \
        in second.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_date_skipped_again_answers_already_skipped(client, session, shopper):
    product = make_product(session)
    location = create(client, product).headers["Location"]
    next_run = session.scalar(select(AutoshipProfile.next_run_date))
    day = next_run.isoformat()
    session.commit()
    # confirmed: a skip that takes PV out of this month asks first (tests/volume/test_qualification_notes.py)
    assert post_form(client, f"{location}/skip", {"day": day, "confirm": "yes"}, page=location).status_code == 303

    again = post_form(client, f"{location}/skip", {"day": day, "confirm": "yes"}, page=location)

    assert again.status_code == 409
    assert f"{next_run:%A, %B %-d} is already skipped." in again.get_data(as_text=True)


def test_a_change_a_constraint_still_refuses_answers_409_with_the_profile_not_a_500(
        client, session, shopper, monkeypatch):
    """The last safety net behind the profile lock: a unique violation at commit is shown as
    a conflict, with the profile as it now is."""
    from sqlalchemy.exc import IntegrityError

    from portal.autoship import lifecycle

    product = make_product(session, name="Omega-3")
    location = create(client, product).headers["Location"]

    def refused(session, **kwargs):
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    monkeypatch.setattr(lifecycle, "rename", refused)
    response = post_form(client, f"{location}/rename", {"name": "Weekly"}, page=location)

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "This standing order was just changed elsewhere." in page and "Omega-3" in page


def test_a_unit_the_product_is_not_sold_in_is_refused_once(client, htmx, session, shopper):
    loose = make_product(session, name="Loose Tea", lot_size=None, lot_price=None)
    location = create(client, make_product(session, name="Omega-3")).headers["Location"]
    htmx.set_cookie("session", client.get_cookie("session").value)
    for answer in (post_form(client, f"{location}/items", {"product_id": loose.id, "unit": "lot", "quantity": 1},
                             page=location),
                   htmx.post(f"{location}/items", data={"product_id": loose.id, "unit": "lot", "quantity": 1,
                                                       "csrf_token": csrf_token(client, location)})):
        body = answer.get_data(as_text=True)
        assert answer.status_code == 422
        assert body.count("Loose Tea is not sold by the lot (available: each, case of 12).") == 1
    page = client.get(location).get_data(as_text=True)
    assert "not sold by the lot" not in page  # nothing left behind to flash on the next page
