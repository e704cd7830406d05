"""The swap and the cancellation flow through HTTP, as plain forms and with htmx."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from portal.autoship.creation import create_profile
from portal.autoship.models import AutoshipItem, AutoshipProfile
from portal.autoship.recurrence import Recurrence
from portal.catalog.services import set_product_active
from portal.clock import company_today
from portal.retention.models import Cancellation, Swap
from tests.conftest import csrf_token, page_text
from tests.factories import make_product
from tests.retention.conftest import RULES

HTMX = {"HX-Request": "true"}


def own_profile(session, shopper, product):
    from portal.addresses.models import Address
    from portal.payments.models import PaymentMethod
    address = session.scalar(select(Address).where(Address.user_id == shopper.id))
    card = session.scalar(select(PaymentMethod).where(PaymentMethod.user_id == shopper.id))
    profile = create_profile(session, user=shopper, name="Monthly tea", rule=Recurrence.every(1, "months"),
                             regularity="calendar", first_date=company_today() + timedelta(days=10),
                             address_id=address.id, card_id=card.id, items=[(product.id, "each", 2)],
                             today=company_today(), rules=RULES)
    session.commit()
    return profile.id, profile.items[0].id


def key_on(page: str) -> str:
    return re.search(r'name="key" type="hidden" value="([^"]+)"|id="key" name="key" type="hidden" value="([^"]+)"',
                     page).group(0).rsplit('value="', 1)[1].rstrip('"')


def test_the_standing_order_offers_swap_and_cancel_leads_to_the_reason_page(client, session, shopper, product):
    profile_id, item_id = own_profile(session, shopper, product)
    page = client.get(f"/autoship/{profile_id}").get_data(as_text=True)
    assert f'href="/autoship/{profile_id}/items/{item_id}/swap"' in page
    assert f'href="/autoship/{profile_id}/cancel"' in page


def test_a_member_swaps_an_item_as_a_plain_form_and_twice_is_once(client, session, shopper, product):
    tea = make_product(session, name="Green tea")
    profile_id, item_id = own_profile(session, shopper, product)
    url = f"/autoship/{profile_id}/items/{item_id}/swap"
    page = client.get(url).get_data(as_text=True)
    assert "Swap Vitamin D" in page_text(page) and "Green tea" in page
    data = {"product_id": tea.id, "unit": "", "key": key_on(page), "csrf_token": csrf_token(client, url)}
    first = client.post(url, data=data)
    assert first.status_code == 303 and first.headers["Location"] == f"/autoship/{profile_id}"
    shown = page_text(client.get(first.headers["Location"]).get_data(as_text=True))
    assert "Swapped: 2 eaches of Vitamin D replaced by 2 eaches of Green tea." in shown
    again = client.post(url, data=data)  # the same page sent again: its item is gone, its key known
    assert again.status_code == 303
    assert "Already done." in page_text(client.get(again.headers["Location"]).get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(Swap)) == 1


def test_with_htmx_a_swap_takes_the_page_to_the_standing_order_and_a_refusal_stays_in_place(
        client, session, shopper, product):
    gone = make_product(session, name="Old tea")
    tea = make_product(session, name="Green tea")
    profile_id, item_id = own_profile(session, shopper, product)
    set_product_active(session, gone.id, False)
    session.commit()
    url = f"/autoship/{profile_id}/items/{item_id}/swap"
    token = csrf_token(client, url)
    fragment = client.get(url, headers=HTMX).get_data(as_text=True)
    assert '<section id="swap">' in fragment and "<html" not in fragment
    refused = client.post(url, data={"product_id": gone.id, "csrf_token": token}, headers=HTMX)
    assert refused.status_code == 422 and "no longer available" in refused.get_data(as_text=True)
    assert "<html" not in refused.get_data(as_text=True)
    done = client.post(url, data={"product_id": tea.id, "csrf_token": token}, headers=HTMX)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/autoship/{profile_id}"
    assert session.scalar(select(AutoshipItem.product_id).where(AutoshipItem.profile_id == profile_id)) == tea.id


def test_cancelling_takes_two_clicks_with_or_without_a_reason(client, session, shopper, product):
    profile_id, _ = own_profile(session, shopper, product)
    page = client.get(f"/autoship/{profile_id}/cancel").get_data(as_text=True)  # click 1
    assert "Cancel my standing order" in page and "I have more than I need" in page
    data = {"key": key_on(page), "reason": "too_expensive", "details": "Too dear",
            "csrf_token": csrf_token(client, f"/autoship/{profile_id}/cancel")}
    response = client.post(f"/autoship/{profile_id}/cancel", data=data)  # click 2
    assert response.status_code == 303
    assert session.get(AutoshipProfile, profile_id).status == "cancelled"
    again = client.post(f"/autoship/{profile_id}/cancel", data=data)  # a double click
    assert again.status_code == 303
    assert "Already done." in page_text(client.get(again.headers["Location"]).get_data(as_text=True))
    [record] = session.scalars(select(Cancellation)).all()
    assert (record.reason, record.details, record.outcome) == ("too_expensive", "Too dear", "cancelled")


def test_the_reason_shows_its_offers_plainly_and_with_htmx(client, session, shopper, product):
    profile_id, _ = own_profile(session, shopper, product)
    plain = page_text(client.get(f"/autoship/{profile_id}/cancel?reason=away").get_data(as_text=True))
    assert "Pause it" in plain and "Ship the next one later" in plain and "Skip the next shipment" not in plain
    panel = client.get(f"/autoship/{profile_id}/cancel?reason=too_much&panel=offers", headers=HTMX)
    text = panel.get_data(as_text=True)
    assert '<div id="offers"' in text and "<html" not in text and "Skip the next shipment" in text
    assert "Instead of cancelling" not in page_text(client.get(f"/autoship/{profile_id}/cancel").get_data(as_text=True))


def test_taking_an_offer_keeps_the_standing_order_and_records_the_save(client, session, shopper, product):
    profile_id, _ = own_profile(session, shopper, product)
    url = f"/autoship/{profile_id}/cancel?reason=too_much"
    page = client.get(url).get_data(as_text=True)
    next_run = session.get(AutoshipProfile, profile_id).next_run_date
    data = {"key": key_on(page), "reason": "too_much", "offer": "skip", "skip_day": next_run.isoformat(),
            "csrf_token": csrf_token(client, url)}
    response = client.post(f"/autoship/{profile_id}/cancel/instead", data=data, headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/autoship/{profile_id}"
    shown = page_text(client.get(f"/autoship/{profile_id}").get_data(as_text=True))
    assert "Kept, with the shipment of" in shown and "skipped" in shown
    assert client.post(f"/autoship/{profile_id}/cancel/instead", data=data).status_code == 303  # twice: once
    [record] = session.scalars(select(Cancellation)).all()
    assert (record.outcome, record.offer) == ("saved", "skip")
    profile = session.get(AutoshipProfile, profile_id)
    assert profile.status == "active" and [s.skip_date for s in profile.skips] == [next_run]


def test_a_refused_offer_stays_on_the_reason_page_with_the_message(client, session, shopper, product):
    profile_id, _ = own_profile(session, shopper, product)
    url = f"/autoship/{profile_id}/cancel?reason=away"
    data = {"reason": "away", "offer": "later", "later_day": company_today().isoformat(),
            "csrf_token": csrf_token(client, url)}
    response = client.post(f"/autoship/{profile_id}/cancel/instead", data=data)
    assert response.status_code == 422 and "Choose a date after today" in page_text(response.get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(Cancellation)) == 0
    bad = client.post(f"/autoship/{profile_id}/cancel/instead", data={**data, "reason": "bored"})
    assert bad.status_code == 422 and session.get(AutoshipProfile, profile_id).status == "active"
