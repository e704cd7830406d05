"""After any change of status or schedule (resume, reactivate, a new schedule, a moved date,
an automatic resume) the next shipment is the first schedule date after the last date already
ordered for: never a date that already has an order."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.autoship import calendar_tokens, engine, lifecycle, schedule_changes, shipping_now
from portal.autoship.engine import EngineRules
from portal.autoship.models import AutoshipProfile
from portal.autoship.profiles import AutoshipError
from portal.autoship.recurrence import Recurrence
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import SandboxGateway
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import log_in, post_form

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
DECEMBER, JANUARY, FEBRUARY = date(2026, 12, 15), date(2027, 1, 15), date(2027, 2, 15)


def shipped_now(session, redis, member, product):
    """A monthly standing order (the 15th) whose December shipment went out early with
    "Ship now": December has its order, January is next."""
    profile = new_profile(session, member, product, first=DECEMBER)
    order = shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                                  shipping=SHIPPING, today=TODAY, base_url="http://portal.test")
    assert (order.autoship_due_date, profile.next_run_date) == (DECEMBER, JANUARY)
    return profile


def ordered_dates(session, profile):
    return session.scalars(select(Order.autoship_due_date).where(Order.autoship_profile_id == profile.id)
                           .order_by(Order.autoship_due_date)).all()


def test_reactivating_after_ship_now_does_not_offer_the_date_already_shipped(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    lifecycle.cancel(session, user=member, profile=profile, today=TODAY, rules=RULES)
    lifecycle.resume(session, user=member, profile=profile, today=TODAY)
    assert (profile.status, profile.next_run_date) == ("active", JANUARY)

    order = shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                                  shipping=SHIPPING, today=TODAY, base_url="http://portal.test")
    assert order.autoship_due_date == JANUARY
    assert ordered_dates(session, profile) == [DECEMBER, JANUARY]


def test_a_new_schedule_starts_after_the_last_date_ordered_for(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    schedule_changes.change_schedule(session, user=member, profile=profile, rule=Recurrence.every(2, "weeks"),
                                     regularity="calendar", first_date=date(2026, 12, 1), today=TODAY,
                                     rules=RULES)
    # Every two weeks from Tuesday December 1: the 1st and the 15th have passed the order for the 15th.
    assert profile.next_run_date == date(2026, 12, 29)


def test_moving_the_schedule_for_good_skips_a_date_already_ordered_for(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    schedule_changes.change_next_date(session, user=member, profile=profile, new_date=DECEMBER,
                                      move_anchor=True, today=TODAY, rules=RULES)
    assert profile.next_run_date == JANUARY


def test_moving_the_next_date_once_onto_a_date_already_ordered_for_is_refused(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    for day in (DECEMBER, date(2026, 12, 10)):
        with pytest.raises(AutoshipError, match="already shipped for December 15, 2026") as refused:
            schedule_changes.change_next_date(session, user=member, profile=profile, new_date=day,
                                              move_anchor=False, today=TODAY, rules=RULES)
        assert refused.value.field == "new_date"
    assert profile.next_run_date == JANUARY


def test_resuming_after_a_schedule_change_while_paused_keeps_to_the_new_dates_not_yet_ordered(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    lifecycle.pause(session, user=member, profile=profile, resume_on=None, today=TODAY, rules=RULES)
    schedule_changes.change_schedule(session, user=member, profile=profile, rule=Recurrence.monthly(10),
                                     regularity="calendar", first_date=date(2026, 12, 1), today=TODAY,
                                     rules=RULES)
    lifecycle.resume(session, user=member, profile=profile, today=TODAY)
    # The new schedule's December 10 comes before the order already placed for December 15.
    assert (profile.status, profile.next_run_date) == ("active", date(2027, 1, 10))


def test_the_engine_resumes_a_pause_after_the_last_date_ordered_for(session, redis, member, product):
    profile = shipped_now(session, redis, member, product)
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2026, 12, 10), today=TODAY,
                    rules=RULES)
    session.commit()
    run = engine.run_in_process(session, as_of=date(2026, 12, 10), trigger="test",
                                rules=EngineRules(shipping=SHIPPING))
    session.expire_all()
    assert run.resumed == 1
    resumed = session.get(AutoshipProfile, profile.id)
    assert (resumed.status, resumed.next_run_date) == ("active", JANUARY)
    engine.run_in_process(session, as_of=DECEMBER, trigger="test", rules=EngineRules(shipping=SHIPPING))
    assert ordered_dates(session, profile) == [DECEMBER]


def test_the_profile_page_and_the_calendar_feed_carry_the_next_date_after_a_reactivation(
        client, session, member, product, clock):
    clock(datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc))
    log_in(client, member)
    profile = new_profile(session, member, product, first=DECEMBER)
    page = f"/autoship/{profile.id}"
    for action in ("ship-now", "cancel", "resume"):  # each confirmed, as after its confirmation step
        assert post_form(client, f"{page}/{action}", {"confirm": "yes"}, page=page).status_code == 303, action

    body = client.get(page).get_data(as_text=True)
    assert "Next shipment: <strong>Friday, January 15, 2027</strong>" in body
    assert "reactivated: next 2027-01-15" in body
    token = calendar_tokens.issue_calendar_token(session, user=member)
    feed = Calendar.from_ical(client.get(f"/autoship/calendar/{token}.ics").get_data())
    runs = sorted(event["DTSTART"].dt for event in feed.walk("VEVENT"))
    assert runs[:2] == [JANUARY, FEBRUARY] and DECEMBER not in runs

    assert post_form(client, f"{page}/ship-now", {"confirm": "yes"}, page=page).status_code == 303
    assert ordered_dates(session, profile) == [DECEMBER, JANUARY]
