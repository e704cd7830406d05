"""A standing order's history speaks in words, for members and admins alike: what changed,
from what to what, never a database id; and it stays true after the card or address it names
is removed."""

from __future__ import annotations

import re

from portal.autoship import lifecycle
from portal.autoship.models import AutoshipEvent
from portal.payments.services import remove_card
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import BrowserLikeClient, log_in
from tests.factories import make_address, make_admin, make_card

WORDS = ("Ship-to changed from Home to Office. "
         "Card changed from Visa ending 4242 to Mastercard ending 4444. "
         "Shipping changed from Standard (3-5 days) to Express (1-2 days). "
         "Price changed from the price on each shipment date to the price when each item was added. "
         "Out-of-stock items changed from shipped when they arrive to left out of that shipment.")


def move_everything(session, redis, member, product):
    """A standing order shipping Home on a Visa, moved to the Office on a Mastercard, express,
    locked prices, out-of-stock items left out."""
    profile = new_profile(session, member, product)
    office = make_address(session, member, moniker="Office")
    mastercard = make_card(session, member, redis, number="5555555555554444")
    lifecycle.change_delivery(session, user=member, profile=profile, address_id=office.id,
                              card_id=mastercard.id, shipping_method="express", price_policy="locked",
                              out_of_stock_policy="skip_item", today=TODAY, rules=RULES)
    return profile, mastercard


def delivery_change(session, profile) -> AutoshipEvent:
    return next(e for e in profile_events(session, profile) if e.action == "delivery changed")


def profile_events(session, profile):
    session.flush()
    return session.query(AutoshipEvent).filter_by(profile_id=profile.id).order_by(AutoshipEvent.id).all()


def test_a_delivery_change_is_recorded_in_words(session, redis, member, product):
    profile, _ = move_everything(session, redis, member, product)

    assert delivery_change(session, profile).description == WORDS


def test_the_history_stays_true_after_the_new_card_is_removed(session, redis, member, product):
    profile, mastercard = move_everything(session, redis, member, product)
    lifecycle.change_delivery(session, user=member, profile=profile, address_id=member.home.id,
                              card_id=member.card.id, shipping_method="express", price_policy="locked",
                              out_of_stock_policy="skip_item", today=TODAY, rules=RULES)
    remove_card(session, user=member, card_id=mastercard.id)

    changes = [e.description for e in profile_events(session, profile) if e.action == "delivery changed"]
    assert changes == [WORDS, "Ship-to changed from Office to Home. "
                              "Card changed from Mastercard ending 4444 to Visa ending 4242."]


def test_a_delivery_change_recorded_with_ids_before_reads_without_them():
    older = AutoshipEvent(action="delivery changed",
                          details="address: 4 → 14; card: 4 → 14; shipping: standard → express; "
                                  "price: run_time → locked; out of stock: backorder → skip_item")

    assert older.description == (
        "Ship-to changed. Card changed. Shipping changed from Standard (3-5 days) to Express (1-2 days). "
        "Price changed from the price on each shipment date to the price when each item was added. "
        "Out-of-stock items changed from shipped when they arrive to left out of that shipment.")


def test_other_entries_read_as_they_were_written():
    assert AutoshipEvent(action="renamed", details="Monthly → Household").description == "Monthly → Household"


def test_the_member_and_the_admin_see_the_change_in_words(app, session, redis, member, product):
    profile, _ = move_everything(session, redis, member, product)
    admin = make_admin(session)
    session.commit()

    for person, page in ((member, f"/autoship/{profile.id}"), (admin, f"/admin/autoship/profiles/{profile.id}")):
        browser = BrowserLikeClient(app, app.response_class)  # each in a browser of their own
        log_in(browser, person)
        html = browser.get(page).get_data(as_text=True)
        assert re.search(r"delivery changed: ([^<]*)<", html).group(1) == WORDS, page
