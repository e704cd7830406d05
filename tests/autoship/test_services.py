"""Standing-order profiles: the rules a member meets, each change audited."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship import (calendar_tokens, creation, items, lifecycle, profiles, schedule_changes,
                              shipping_now)
from portal.autoship.models import AutoshipEvent, AutoshipProfile
from portal.autoship.calendar_feed import build_feed
from portal.autoship.queries import summarize
from portal.autoship.recurrence import Recurrence
from portal.autoship.profiles import AutoshipError
from portal.cart.services import add_to_cart
from portal.catalog.services import OrderingError
from portal.errors import NotFound
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import PaymentDeclined, SandboxGateway
from portal.payments.services import CardUnusable
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_address, make_card, make_product, make_user

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))


def actions(session, profile):
    return [e.action for e in session.scalars(select(AutoshipEvent).where(
        AutoshipEvent.profile_id == profile.id).order_by(AutoshipEvent.id))]


def test_a_new_profile_runs_first_on_its_first_date_and_records_its_creation(session, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    assert (profile.status, profile.next_run_date, profile.anchor_date) == ("active", date(2026, 12, 15), date(2026, 12, 15))
    assert profile.rrule == "FREQ=MONTHLY;INTERVAL=1"
    assert actions(session, profile) == ["created"]


def test_a_weekday_rule_starts_on_its_first_matching_day(session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.monthly_weekday(2, "TU"),
                          first=date(2026, 12, 1))
    assert profile.next_run_date == date(2026, 12, 8)


def test_the_cycle_shows_price_pv_and_eaches_with_a_minimum_pv_warning(session, member, product):
    profile = new_profile(session, member, product, items=[(product.id, "case", 1), (product.id, "each", 2)])
    summary = summarize(profile, TODAY, RULES, SHIPPING)
    assert summary.cycle.subtotal == Decimal("130.00") and summary.cycle.eaches == 14
    assert summary.cycle.pv == Decimal("112.00") and not summary.below_min_pv
    small = new_profile(session, member, product, items=[(product.id, "each", 1)])
    assert summarize(small, TODAY, RULES, SHIPPING).below_min_pv


@pytest.mark.parametrize("change, message", [
    (dict(first=TODAY - timedelta(days=1)), "in the past"),
    (dict(first=TODAY + timedelta(days=400)), "twelve months"),
    (dict(items=[]), "at least one item"),
    (dict(regularity="sometimes"), "calendar or a rolling"),
    (dict(price_policy="cheapest"), "price"),
])
def test_invalid_profiles_are_refused(session, member, product, change, message):
    with pytest.raises(AutoshipError, match=message):
        new_profile(session, member, product, **change)
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0


def test_unknown_inactive_or_unsellable_items_are_refused(session, member, product):
    retired = make_product(session, case_size=None, lot_size=None)
    with pytest.raises(NotFound):
        new_profile(session, member, product, items=[(987654, "each", 1)])
    with pytest.raises(OrderingError, match="not sold by the case"):
        new_profile(session, member, product, items=[(retired.id, "case", 1)])
    for quantity in (0, -1, 1000):
        with pytest.raises(OrderingError):
            new_profile(session, member, product, items=[(product.id, "each", quantity)])
    retired.active = False
    with pytest.raises(OrderingError, match="no longer available"):
        new_profile(session, member, product, items=[(retired.id, "each", 1)])


def test_a_profile_never_uses_another_persons_address_or_card(session, redis, member, product):
    stranger = make_user(session)
    their_address, their_card = make_address(session, stranger), make_card(session, stranger, redis)
    with pytest.raises(NotFound):
        creation.create_profile(session, user=member, name="X", rule=Recurrence.every(1, "months"),
                                regularity="calendar", first_date=TODAY + timedelta(days=10), address_id=their_address.id,
                                card_id=member.card.id, items=[(product.id, "each", 1)], today=TODAY, rules=RULES)
    profile = new_profile(session, member, product)
    with pytest.raises(NotFound):
        lifecycle.change_delivery(session, user=member, profile=profile, address_id=member.home.id,
                                  card_id=their_card.id, shipping_method="standard",
                                  price_policy="run_time", out_of_stock_policy="backorder",
                                  today=TODAY, rules=RULES)


def test_an_expired_card_is_refused(session, redis, member, product):
    expired = make_card(session, member, redis, exp_year=2030)
    expired.exp_year, expired.exp_month = 2025, 1
    with pytest.raises(CardUnusable, match="expired"):
        creation.create_profile(session, user=member, name="X", rule=Recurrence.every(1, "months"),
                                regularity="calendar", first_date=TODAY + timedelta(days=10), address_id=member.home.id,
                                card_id=expired.id, items=[(product.id, "each", 1)], today=TODAY, rules=RULES)


def test_someone_elses_profile_is_not_found(session, member, product):
    profile = new_profile(session, member, product)
    with pytest.raises(NotFound):
        profiles.owned_profile(session, make_user(session), profile.id)


def test_items_are_added_changed_and_removed_with_history(session, member, product):
    other = make_product(session)
    profile = new_profile(session, member, product)
    items.add_item(session, user=member, profile=profile, product_id=other.id, unit_code="lot",
                   quantity=1, today=TODAY, rules=RULES)
    items.add_item(session, user=member, profile=profile, product_id=product.id, unit_code="case",
                   quantity=1, today=TODAY, rules=RULES)  # same product, another unit: its own line
    first = profile.items[0]
    items.change_item(session, user=member, profile=profile, item_id=first.id, unit_code="each",
                      quantity=5, today=TODAY, rules=RULES)
    items.remove_item(session, user=member, profile=profile, item_id=profile.items[1].id,
                      today=TODAY, rules=RULES)
    assert sorted((i.product_id, i.unit_code, i.quantity) for i in profile.items) == sorted(
        [(product.id, "each", 5), (product.id, "case", 1)])
    assert actions(session, profile) == ["created", "item added", "item added", "item changed", "item removed"]


def test_the_last_item_cannot_be_removed(session, member, product):
    profile = new_profile(session, member, product)
    with pytest.raises(AutoshipError, match="at least one item"):
        items.remove_item(session, user=member, profile=profile, item_id=profile.items[0].id,
                          today=TODAY, rules=RULES)


def test_changes_close_within_the_cutoff_before_a_run(session, member, product):
    profile = new_profile(session, member, product, first=TODAY + timedelta(days=2))
    assert profiles.days_until_cutoff(profile, TODAY, RULES) == 0
    items.add_item(session, user=member, profile=profile, product_id=product.id, unit_code="case",
                   quantity=1, today=TODAY, rules=RULES)  # still allowed on the last day
    tomorrow = TODAY + timedelta(days=1)
    for attempt in (
        lambda: items.add_item(session, user=member, profile=profile, product_id=product.id,
                               unit_code="each", quantity=1, today=tomorrow, rules=RULES),
        lambda: lifecycle.pause(session, user=member, profile=profile, resume_on=None, today=tomorrow, rules=RULES),
        lambda: schedule_changes.skip_date(session, user=member, profile=profile, day=profile.next_run_date,
                                           today=tomorrow, rules=RULES),
        lambda: lifecycle.cancel(session, user=member, profile=profile, today=tomorrow, rules=RULES),
    ):
        with pytest.raises(AutoshipError, match="being prepared"):
            attempt()
    later = profiles.schedule_of(profile).following(profile.next_run_date)
    schedule_changes.skip_date(session, user=member, profile=profile, day=later, today=tomorrow, rules=RULES)
    assert profile.status == "active"


def test_skipping_the_next_date_moves_to_the_following_and_survives_other_edits(session, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    schedule_changes.skip_date(session, user=member, profile=profile, day=date(2026, 12, 15), today=TODAY, rules=RULES)
    assert profile.next_run_date == date(2027, 1, 15)
    schedule_changes.skip_date(session, user=member, profile=profile, day=date(2027, 3, 15), today=TODAY, rules=RULES)
    items.add_item(session, user=member, profile=profile, product_id=product.id, unit_code="case",
                   quantity=1, today=TODAY, rules=RULES)
    schedule_changes.change_schedule(session, user=member, profile=profile, rule=Recurrence.every(1, "months"),
                                     regularity="calendar", first_date=date(2027, 1, 15), today=TODAY, rules=RULES)
    upcoming = profiles.schedule_of(profile).upcoming(profile.next_run_date, 4)
    assert upcoming == [date(2027, 1, 15), date(2027, 2, 15), date(2027, 4, 15), date(2027, 5, 15)]
    schedule_changes.unskip_date(session, user=member, profile=profile, day=date(2027, 3, 15), today=TODAY, rules=RULES)
    assert date(2027, 3, 15) in profiles.schedule_of(profile).upcoming(profile.next_run_date, 4)


def test_a_date_that_is_not_an_upcoming_shipment_cannot_be_skipped(session, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    with pytest.raises(AutoshipError, match="not one of the next shipments"):
        schedule_changes.skip_date(session, user=member, profile=profile, day=date(2026, 12, 16), today=TODAY, rules=RULES)


def test_month_end_schedules_clamp_and_never_skip_a_month(session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.monthly(31), first=date(2027, 1, 31))
    assert profiles.schedule_of(profile).upcoming(profile.next_run_date, 4) == [
        date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]


def test_moving_the_next_date_once_keeps_the_pattern_and_for_good_moves_it(session, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    schedule_changes.change_next_date(session, user=member, profile=profile, new_date=date(2026, 12, 20),
                                      move_anchor=False, today=TODAY, rules=RULES)
    assert profiles.schedule_of(profile).upcoming(profile.next_run_date, 2) == [date(2026, 12, 20), date(2027, 1, 15)]
    schedule_changes.change_next_date(session, user=member, profile=profile, new_date=date(2026, 12, 24),
                                      move_anchor=True, today=TODAY, rules=RULES)
    assert profiles.schedule_of(profile).upcoming(profile.next_run_date, 2) == [date(2026, 12, 24), date(2027, 1, 24)]
    with pytest.raises(AutoshipError, match="after today"):
        schedule_changes.change_next_date(session, user=member, profile=profile, new_date=TODAY,
                                          move_anchor=False, today=TODAY, rules=RULES)


def test_pause_resume_cancel_reactivate(session, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2027, 2, 1), today=TODAY, rules=RULES)
    assert (profile.status, profile.paused_until) == ("paused", date(2027, 2, 1))
    lifecycle.resume(session, user=member, profile=profile, today=TODAY)
    assert (profile.status, profile.next_run_date) == ("active", date(2026, 12, 15))
    lifecycle.cancel(session, user=member, profile=profile, today=TODAY, rules=RULES)
    with pytest.raises(AutoshipError, match="cancelled"):
        items.add_item(session, user=member, profile=profile, product_id=product.id, unit_code="each",
                       quantity=1, today=TODAY, rules=RULES)
    later = date(2027, 3, 2)
    lifecycle.resume(session, user=member, profile=profile, today=later)
    assert (profile.status, profile.next_run_date) == ("active", date(2027, 3, 15))
    assert actions(session, profile)[-4:] == ["paused", "resumed", "cancelled", "reactivated"]


def test_ship_now_on_a_calendar_profile_consumes_the_next_occurrence(session, redis, member, product):
    profile = new_profile(session, member, product, first=date(2026, 12, 15))
    order = shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                                  shipping=SHIPPING, today=TODAY, base_url="http://portal.test")
    assert (order.status, order.source, order.autoship_due_date) == ("paid", "autoship", date(2026, 12, 15))
    assert profile.next_run_date == date(2027, 1, 15) and profile.last_order_date == TODAY


def test_ship_now_on_a_rolling_profile_restarts_the_interval(session, redis, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.every(4, "weeks"),
                          regularity="rolling", first=date(2026, 12, 15))
    shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                          shipping=SHIPPING, today=TODAY, base_url="http://portal.test")
    assert profile.next_run_date == TODAY + timedelta(weeks=4)
    with pytest.raises(AutoshipError, match="already shipped"):
        shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                              shipping=SHIPPING, today=TODAY, base_url="http://portal.test")


def test_ship_now_with_a_declining_card_raises(session, redis, member, product):
    declining = make_card(session, member, redis, number="4000000000000002")
    profile = new_profile(session, member, product)
    profile.payment_method_id = declining.id
    with pytest.raises(PaymentDeclined):
        shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                              shipping=SHIPPING, today=TODAY, base_url="http://portal.test")


def test_locked_prices_stay_when_the_catalog_changes(session, member, product):
    profile = new_profile(session, member, product, price_policy="locked")
    running = new_profile(session, member, product)
    product.unit("each").price = Decimal("12.00")
    assert summarize(profile, TODAY, RULES, SHIPPING).cycle.subtotal == Decimal("20.00")
    assert summarize(running, TODAY, RULES, SHIPPING).cycle.subtotal == Decimal("24.00")


def test_the_cart_becomes_a_profile_in_one_action_and_stays_in_the_cart(session, member, product):
    add_to_cart(session, user=member, product_id=product.id, unit_code="case", quantity=2, max_quantity=999)
    profile = creation.profile_from_cart(session, user=member, today=TODAY, rules=RULES)
    assert [(i.unit_code, i.quantity) for i in profile.items] == [("case", 2)]
    assert profile.next_run_date == date(2026, 12, 22)  # monthly from today
    from portal.cart.services import cart_lines
    assert len(cart_lines(session, member)) == 1


def test_a_saved_default_schedule_is_used_for_one_click_creation(session, member, product):
    creation.save_default_rule(session, user=member, rule=Recurrence.every(2, "weeks"), regularity="rolling")
    profile = creation.subscribe(session, user=member, product_id=product.id, unit_code="each", quantity=1,
                                 profile_id=None, today=TODAY, rules=RULES)
    assert (profile.rrule, profile.regularity, profile.next_run_date) == (
        "FREQ=WEEKLY;INTERVAL=2", "rolling", TODAY + timedelta(weeks=2))
    creation.subscribe(session, user=member, product_id=product.id, unit_code="each", quantity=2,
                       profile_id=profile.id, today=TODAY, rules=RULES)
    assert profile.items[0].quantity == 3


def test_one_click_creation_needs_an_address_and_a_card(session, product):
    homeless = make_user(session)
    with pytest.raises(AutoshipError, match="address"):
        creation.subscribe(session, user=homeless, product_id=product.id, unit_code="each", quantity=1,
                           profile_id=None, today=TODAY, rules=RULES)


def test_the_calendar_feed_lists_upcoming_runs_and_can_be_revoked(session, member, product):
    new_profile(session, member, product, first=date(2026, 12, 15))
    token = calendar_tokens.issue_calendar_token(session, user=member)
    assert calendar_tokens.feed_owner(session, token).id == member.id
    ics = build_feed(session, member, TODAY, "Standing Order")
    assert ics.startswith("BEGIN:VCALENDAR") and "DTSTART;VALUE=DATE:20261215" in ics
    assert "DTSTART;VALUE=DATE:20270115" in ics
    calendar_tokens.revoke_calendar_token(session, user=member)
    assert calendar_tokens.feed_owner(session, token) is None


@pytest.mark.parametrize("days_ahead, days_to_cutoff, closed", [(3, 1, False), (2, 0, False), (1, -1, True)])
def test_the_summary_says_whether_the_next_runs_edit_cutoff_has_passed(session, member, product, days_ahead,
                                                                     days_to_cutoff, closed):
    """The cutoff is two days: the last day to change the next run still allows it."""
    profile = new_profile(session, member, product, first=TODAY + timedelta(days=3))
    summary = summarize(profile, TODAY + timedelta(days=3 - days_ahead), RULES, SHIPPING)
    assert (summary.days_to_cutoff, summary.changes_closed) == (days_to_cutoff, closed)


def test_a_paused_standing_order_has_no_cutoff_to_close_its_changes(session, member, product):
    profile = new_profile(session, member, product, first=TODAY + timedelta(days=3))
    lifecycle.pause(session, user=member, profile=profile, resume_on=None, today=TODAY, rules=RULES)
    summary = summarize(profile, TODAY + timedelta(days=2), RULES, SHIPPING)
    assert (summary.days_to_cutoff, summary.changes_closed) == (None, False)
