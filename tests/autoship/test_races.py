"""Two tabs or devices of one member change the same standing order at the same moment: the
second waits for the first and answers as if it came after it (the same item adds up, a date
skipped twice is "already skipped", Ship now twice ships once), never a crash.

Each test makes the first change in the test's session and leaves it uncommitted; the second
runs behind it as a concurrent request would (tests.races.run_behind), having loaded the
profile before the first committed, as the web request does."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.autoship import items, lifecycle, profiles, schedule_changes, shipping_now
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipProfile, AutoshipSkip,
                                    OutOfStockPolicy, PricePolicy)
from portal.autoship.recurrence import Recurrence
from portal.autoship.profiles import AlreadyDone, AutoshipError
from portal.errors import NotFound
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import SandboxGateway
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_address, make_card, make_product
from tests.races import run_behind

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
FIRST = date(2026, 12, 15)


@pytest.fixture
def standing(session, member, product):
    """A monthly standing order of 2 x Vitamin D from December 15, committed; and a second
    product to add."""
    profile = new_profile(session, member, product, first=FIRST)
    tea = make_product(session, name="Green Tea", each_price=Decimal("7.90"))
    session.commit()
    return profile, tea


def racing(app, session, member, profile, change):
    """``change(session, person, profile)`` made twice at once: first in the test's session,
    uncommitted, then by a concurrent request that loaded the profile before the first
    committed. Answers what the second returned or raised."""
    ids = member.id, profile.id
    change(session, member, profile)

    def second_request(other):
        person = other.get(User, ids[0])
        mine = profiles.owned_profile(other, person, ids[1])  # loaded before the wait
        [(item.quantity, item.unit_code) for item in mine.items]
        [skip.skip_date for skip in mine.skips]
        return change(other, person, mine)

    outcome = run_behind(app, session, second_request)
    session.expire_all()
    return outcome


def events(session, profile, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AutoshipEvent).where(
        AutoshipEvent.profile_id == profile.id, AutoshipEvent.action == action))


def test_the_same_item_added_twice_at_once_adds_up(app, session, member, standing):
    profile, tea = standing
    tea_id = tea.id  # read here: the test's objects are not the other request's to load

    def add_tea(s, person, mine):
        return items.add_item(s, user=person, profile=mine, product_id=tea_id, unit_code="each",
                              quantity=3, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, add_tea)

    assert isinstance(outcome, AutoshipItem), outcome
    teas = session.scalars(select(AutoshipItem).where(AutoshipItem.profile_id == profile.id,
                                                      AutoshipItem.product_id == tea.id)).all()
    assert [(item.unit_code, item.quantity) for item in teas] == [("each", 6)]
    assert events(session, profile, "item added") == 2


def test_the_same_date_skipped_twice_at_once_is_already_skipped(app, session, member, standing):
    profile, _ = standing
    january = date(2027, 1, 15)

    def skip_january(s, person, mine):
        schedule_changes.skip_date(s, user=person, profile=mine, day=january, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, skip_january)

    assert isinstance(outcome, AlreadyDone) and outcome.status == 409, outcome
    assert outcome.message == "Friday, January 15 is already skipped."
    assert session.scalars(select(AutoshipSkip.skip_date)).all() == [january]
    assert events(session, profile, "date skipped") == 1


def test_the_next_date_skipped_twice_at_once_skips_it_once(app, session, member, standing):
    """Skipping the next shipment moves the next date on; the second skip of that date must
    not move it on again."""
    profile, _ = standing

    def skip_next(s, person, mine):
        schedule_changes.skip_date(s, user=person, profile=mine, day=FIRST, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, skip_next)

    assert isinstance(outcome, AlreadyDone), outcome
    assert session.get(AutoshipProfile, profile.id).next_run_date == date(2027, 1, 15)


def test_a_skip_undone_twice_at_once_is_undone_once(app, session, member, standing):
    profile, _ = standing
    january = date(2027, 1, 15)
    schedule_changes.skip_date(session, user=member, profile=profile, day=january, today=TODAY, rules=RULES)
    session.commit()

    def unskip_january(s, person, mine):
        schedule_changes.unskip_date(s, user=person, profile=mine, day=january, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, unskip_january)

    assert isinstance(outcome, NotFound) and outcome.message == "That date is not skipped.", outcome
    assert session.scalars(select(AutoshipSkip)).all() == []
    assert events(session, profile, "skip undone") == 1


@pytest.mark.parametrize("regularity, rule", [("calendar", Recurrence.every(1, "months")),
                                              ("rolling", Recurrence.every(4, "weeks"))])
def test_ship_now_pressed_twice_at_once_ships_and_charges_once(app, session, redis, member, product,
                                                               regularity, rule):
    profile = new_profile(session, member, product, first=FIRST, rule=rule, regularity=regularity)
    session.commit()
    offered = shipping_now.ship_now_date(profile, TODAY)  # what both pages showed

    def ship(s, person, mine):
        return shipping_now.ship_now(s, user=person, profile=mine, gateway=SandboxGateway(redis),
                                     shipping=SHIPPING, today=TODAY, base_url="http://portal.test", offered=offered)

    outcome = racing(app, session, member, profile, ship)

    order = session.scalar(select(Order))
    assert isinstance(outcome, AlreadyDone) and outcome.status == 409, outcome
    assert outcome.message == (f"This standing order already shipped for "
                               f"{offered:%B %-d, %Y}: order {order.number}.")
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1
    assert events(session, profile, "shipped now") == 1


def test_the_same_item_removed_twice_at_once_is_removed_once(app, session, member, standing):
    profile, tea = standing
    items.add_item(session, user=member, profile=profile, product_id=tea.id, unit_code="each",
                   quantity=1, today=TODAY, rules=RULES)
    session.commit()
    tea_item = session.scalar(select(AutoshipItem.id).where(AutoshipItem.product_id == tea.id))

    def remove_tea(s, person, mine):
        items.remove_item(s, user=person, profile=mine, item_id=tea_item, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, remove_tea)

    assert isinstance(outcome, NotFound), outcome
    assert outcome.message == "That item is not in this standing order."
    assert session.scalar(select(func.count()).select_from(AutoshipItem)) == 1
    assert events(session, profile, "item removed") == 1


def test_the_last_two_items_removed_at_once_leave_one(app, session, member, standing):
    """Each tab sees two items and removes a different one: the second finds one item left,
    which a standing order keeps."""
    profile, tea = standing
    items.add_item(session, user=member, profile=profile, product_id=tea.id, unit_code="each",
                   quantity=1, today=TODAY, rules=RULES)
    session.commit()
    first_id, second_id = session.scalars(select(AutoshipItem.id).order_by(AutoshipItem.id)).all()
    items.remove_item(session, user=member, profile=profile, item_id=first_id, today=TODAY,
                      rules=RULES)

    def remove_the_other(s, person, mine):
        items.remove_item(s, user=person, profile=mine, item_id=second_id, today=TODAY,
                          rules=RULES)

    ids = member.id, profile.id

    def second_request(other):
        person = other.get(User, ids[0])
        remove_the_other(other, person, profiles.owned_profile(other, person, ids[1]))

    outcome = run_behind(app, session, second_request)

    assert isinstance(outcome, AutoshipError) and "at least one item" in outcome.message, outcome
    assert session.scalars(select(AutoshipItem.id)).all() == [second_id]


def test_a_quantity_changed_twice_at_once_ends_as_the_second_said(app, session, member, standing):
    profile, _ = standing
    item_id = profile.items[0].id
    quantities = iter([5, 7])

    def change(s, person, mine):
        items.change_item(s, user=person, profile=mine, item_id=item_id, unit_code="each",
                          quantity=next(quantities), today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, change)

    assert outcome is None
    assert session.get(AutoshipItem, item_id).quantity == 7
    details = session.scalars(select(AutoshipEvent.details).where(
        AutoshipEvent.action == "item changed").order_by(AutoshipEvent.id)).all()
    assert [d.split(": ", 1)[1] for d in details] == ["2 × each → 5 × each", "5 × each → 7 × each"]


@pytest.mark.parametrize("action, message", [
    ("cancel", "This standing order is already cancelled."),
    ("pause", "Only an active standing order can be paused."),
])
def test_a_status_change_made_twice_at_once_is_made_once(app, session, member, standing, action,
                                                         message):
    profile, _ = standing

    def change(s, person, mine):
        if action == "cancel":
            lifecycle.cancel(s, user=person, profile=mine, today=TODAY, rules=RULES)
        else:
            lifecycle.pause(s, user=person, profile=mine, resume_on=None, today=TODAY, rules=RULES)

    outcome = racing(app, session, member, profile, change)

    assert isinstance(outcome, AutoshipError) and outcome.message == message, outcome
    assert events(session, profile, "cancelled" if action == "cancel" else "paused") == 1


@pytest.mark.parametrize("status", ["paused", "cancelled"])
def test_a_standing_order_resumed_twice_at_once_is_resumed_once(app, session, member, standing,
                                                                 status):
    profile, _ = standing
    if status == "paused":
        lifecycle.pause(session, user=member, profile=profile, resume_on=None, today=TODAY, rules=RULES)
    else:
        lifecycle.cancel(session, user=member, profile=profile, today=TODAY, rules=RULES)
    session.commit()

    def resume(s, person, mine):
        lifecycle.resume(s, user=person, profile=mine, today=TODAY)

    outcome = racing(app, session, member, profile, resume)

    assert isinstance(outcome, AutoshipError), outcome
    assert outcome.message == "This standing order is already active."
    assert events(session, profile, "resumed" if status == "paused" else "reactivated") == 1


def test_schedule_delivery_and_name_changed_twice_at_once_each_apply_in_turn(
        app, session, redis, member, standing):
    profile, _ = standing
    office = make_address(session, member, moniker="Office")
    spare = make_card(session, member, redis, number="5555555555554444")
    session.commit()
    office_id, spare_id = office.id, spare.id

    def change(s, person, mine):
        schedule_changes.change_schedule(s, user=person, profile=mine, rule=Recurrence.every(2, "weeks"),
                                         regularity="rolling", first_date=TODAY + timedelta(days=5),
                                         today=TODAY, rules=RULES)
        lifecycle.change_delivery(s, user=person, profile=mine, address_id=office_id,
                                  card_id=spare_id, shipping_method="standard",
                                  price_policy=PricePolicy.RUN_TIME,
                                  out_of_stock_policy=OutOfStockPolicy.BACKORDER,
                                  today=TODAY, rules=RULES)
        lifecycle.rename(s, user=person, profile=mine, name="Fortnightly")

    outcome = racing(app, session, member, profile, change)

    assert outcome is None
    saved = session.get(AutoshipProfile, profile.id)
    assert (saved.rrule, saved.regularity, saved.next_run_date, saved.address_id,
            saved.payment_method_id, saved.name) == (
        "FREQ=WEEKLY;INTERVAL=2", "rolling", TODAY + timedelta(days=5), office_id, spare_id,
        "Fortnightly")
    # The second found the delivery already as it asked: nothing to change, nothing recorded.
    assert events(session, profile, "delivery changed") == 1
    assert events(session, profile, "schedule changed") == 2
