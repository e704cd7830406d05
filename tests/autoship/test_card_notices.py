"""Notices before a payment fails: a card that expires before its standing order's next run is
announced 30 and 7 days ahead, once each per card, standing order and threshold, with a link to
where that standing order's card is changed; payment-failure mails carry the same link."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from jobs.cron import schedule
from portal.autoship import engine
from portal.autoship.card_notices import (card_update_link, due_notices_query, notice_windows,
                                          send_card_expiry_notices)
from portal.autoship.creation import create_profile
from portal.autoship.lifecycle import pause
from portal.autoship.models import AutoshipProfile, CardExpiryNotice
from portal.autoship.recurrence import Recurrence
from portal.clock import company_today
from portal.mail.models import OutboxMessage
from portal.orders import charging
from portal.orders.models import Order
from portal.payments.models import PaymentMethod
from portal.payments.rules import card_expires_before, card_expires_before_sql
from portal.queues import get_queue
from tests.autoship.conftest import RULES, new_profile
from tests.autoship.test_engine import ENGINE
from tests.conftest import log_in
from tests.factories import make_card

TODAY = date(2026, 11, 22)
BASE = "http://portal.test"


def expiring(session, redis, person, month: int = 11, year: int = 2026) -> PaymentMethod:
    """A card of ``person`` that runs out at the end of ``month``/``year``."""
    card = make_card(session, person, redis, exp_month=12, exp_year=2030)
    card.exp_month, card.exp_year = month, year  # the gateway refuses expired cards; they exist
    session.flush()
    return card


def profile_running_on(session, person, product, run: date, card) -> AutoshipProfile:
    profile = new_profile(session, person, product, rule=Recurrence.every(1, "months"), first=run)
    assert profile.next_run_date == run
    profile.payment_method_id = card.id
    session.flush()
    return profile


def notices(session) -> list[tuple[int, int, int]]:
    return sorted(session.execute(select(CardExpiryNotice.profile_id, CardExpiryNotice.payment_method_id,
                                         CardExpiryNotice.days_ahead)).all())


def bodies(session) -> list[str]:
    return list(session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id)))


# --- The rule ---------------------------------------------------------------------------------

def test_a_card_works_through_the_last_day_of_its_month_in_python_and_sql_alike(session):
    days = [date(2026, 11, 30), date(2026, 12, 1), date(2027, 1, 1), date(2026, 2, 28), date(2025, 12, 31)]
    cards = [(2026, 11), (2026, 12), (2025, 12), (2027, 1)]
    for year, month in cards:
        for day in days:
            in_sql = session.scalar(select(card_expires_before_sql(year, month, day)))
            assert in_sql == card_expires_before(year, month, day), (year, month, day)
    assert card_expires_before(2026, 11, date(2026, 12, 1)) and not card_expires_before(2026, 11, date(2026, 11, 30))


def test_the_windows_lie_side_by_side():
    assert notice_windows() == [(30, 7), (7, 0)]
    assert notice_windows((7, 30, 1)) == [(30, 7), (7, 1), (1, 0)]


# --- The notices --------------------------------------------------------------------------------

def test_told_30_and_7_days_ahead_once_each_with_the_link(session, redis, member, product):
    card = expiring(session, redis, member)  # good through November
    run = date(2026, 12, 15)
    profile = profile_running_on(session, member, product, run, card)
    session.commit()

    assert send_card_expiry_notices(session, today=run - timedelta(days=31), base_url=BASE) == 0
    assert send_card_expiry_notices(session, today=run - timedelta(days=30), base_url=BASE) == 1
    for day in range(29, 7, -1):  # nothing more until the week before
        assert send_card_expiry_notices(session, today=run - timedelta(days=day), base_url=BASE) == 0
    assert send_card_expiry_notices(session, today=run - timedelta(days=7), base_url=BASE) == 1
    assert send_card_expiry_notices(session, today=run - timedelta(days=7), base_url=BASE) == 0  # twice a day
    assert send_card_expiry_notices(session, today=run - timedelta(days=1), base_url=BASE) == 0
    session.commit()

    assert notices(session) == [(profile.id, card.id, 7), (profile.id, card.id, 30)]
    first, second = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    assert first.user_id == member.id and first.recipient == member.email
    assert first.subject == "Your card expires before your autoship on December 15"
    link = f"{BASE}/autoship/{profile.id}?change=card#delivery"
    assert link == card_update_link(BASE, profile.id)
    for mail in (first, second):
        assert f"Visa ending {card.last4} on your standing order “{profile.name}” expires 11/26" in mail.body
        assert "before its next shipment on Tuesday, December 15" in mail.body
        assert f"Choose another card for this standing order: {link}\n" in mail.body
    assert "once more 7 days before" in first.body and "last reminder" in second.body


def test_a_run_found_inside_the_week_gets_only_the_7_day_notice(session, redis, member, product):
    card = expiring(session, redis, member)
    profile = profile_running_on(session, member, product, date(2026, 12, 3), card)
    assert send_card_expiry_notices(session, today=date(2026, 11, 28), base_url=BASE) == 1
    assert notices(session) == [(profile.id, card.id, 7)]


def test_nobody_is_told_whose_card_works_on_the_run_or_whose_order_does_not_run(session, redis, member, product):
    good = make_card(session, member, redis)
    lasting = expiring(session, redis, member, month=12)  # good through December: fine for Dec 15
    profile_running_on(session, member, product, date(2026, 12, 15), good)
    profile_running_on(session, member, product, date(2026, 12, 15), lasting)
    paused = profile_running_on(session, member, product, date(2026, 12, 15), expiring(session, redis, member))
    pause(session, user=member, profile=paused, resume_on=None, today=TODAY, rules=RULES)
    session.flush()
    assert send_card_expiry_notices(session, today=date(2026, 11, 20), base_url=BASE) == 0
    assert bodies(session) == []


def test_a_new_card_that_expires_too_is_announced_again(session, redis, member, product):
    old = expiring(session, redis, member)
    profile = profile_running_on(session, member, product, date(2026, 12, 15), old)
    assert send_card_expiry_notices(session, today=date(2026, 11, 20), base_url=BASE) == 1
    newer = expiring(session, redis, member, month=11)
    profile.payment_method_id = newer.id
    session.flush()
    assert send_card_expiry_notices(session, today=date(2026, 11, 21), base_url=BASE) == 1
    assert [n[1:] for n in notices(session)] == sorted([(old.id, 30), (newer.id, 30)])


def test_many_profiles_are_found_set_based_in_batches(session, redis, member, product):
    card = expiring(session, redis, member)
    profiles = [profile_running_on(session, member, product, date(2026, 12, 10), card) for _ in range(5)]
    assert send_card_expiry_notices(session, today=date(2026, 11, 20), base_url=BASE, batch=2) == 5
    assert sorted(n[0] for n in notices(session)) == sorted(p.id for p in profiles)
    assert session.execute(due_notices_query(date(2026, 11, 20), 30, 7)).all() == []


def test_the_database_keeps_one_notice_per_card_profile_and_threshold(session, redis, member, product):
    card = expiring(session, redis, member)
    profile = profile_running_on(session, member, product, date(2026, 12, 15), card)
    send_card_expiry_notices(session, today=date(2026, 11, 20), base_url=BASE)
    session.add(CardExpiryNotice(payment_method_id=card.id, profile_id=profile.id, days_ahead=30,
                                 run_date=date(2026, 12, 15)))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


# --- Payment failures ---------------------------------------------------------------------------

def test_every_payment_failure_mail_links_to_the_standing_orders_card(app, session, redis, member, product):
    card = make_card(session, member, redis, number="4000000000000002")  # declined
    profile = new_profile(session, member, product, first=date(2026, 12, 1))
    profile.payment_method_id = card.id
    session.commit()
    engine.run_in_process(session, as_of=date(2026, 12, 1), trigger="test", rules=ENGINE)
    [order_id] = session.scalars(select(Order.id))
    for day in (date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 5), date(2026, 12, 10)):
        charging.charge(app, session, [order_id], day)
        session.expire_all()
    failures = list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.subject.contains("declined") | OutboxMessage.subject.contains("cancelled"))))
    assert len(failures) == 4
    link = f"/autoship/{profile.id}?change=card#delivery"
    assert all(link in mail.body for mail in failures)


# --- The page the link opens --------------------------------------------------------------------

def test_the_link_opens_the_card_section_and_the_page_warns(client, session, redis, member, product, clock):
    clock(datetime(2026, 11, 22, 15, tzinfo=timezone.utc))
    expires = profile_running_on(session, member, product, date(2026, 12, 15), expiring(session, redis, member))
    fine = profile_running_on(session, member, product, date(2026, 12, 15), make_card(session, member, redis))
    session.commit()
    log_in(client, member)
    warned = client.get(f"/autoship/{expires.id}").get_data(as_text=True)
    assert '<details id="delivery" open>' in warned  # the warning sits where the card is changed
    assert "expires 11/26, before the next shipment on Tuesday, December 15" in warned
    plain = client.get(f"/autoship/{fine.id}").get_data(as_text=True)
    assert '<details id="delivery" >' in plain and "before the next shipment" not in plain
    linked = client.get(f"/autoship/{fine.id}?change=card").get_data(as_text=True)
    assert '<details id="delivery" open>' in linked  # a payment-failure mail's link


# --- The daily job --------------------------------------------------------------------------------

def test_cron_runs_the_notices_daily(app):
    assert {"func": __import__("jobs.autoship", fromlist=["card_notices"]).card_notices,
            "queue_name": "default", "cron": app.config["CARD_NOTICE_CRON"]} in schedule(app)


def test_a_real_worker_sends_the_notices_once_through_the_outbox(app, session, redis, member, product, run_worker):
    today = company_today()
    run = today + timedelta(days=20)
    card = make_card(session, member, redis)
    profile = create_profile(session, user=member, name="Vitamins", rule=Recurrence.every(1, "months"),
                             regularity="calendar", first_date=run, address_id=member.home.id,
                             card_id=card.id, items=[(product.id, "each", 2)], today=today, rules=RULES)
    month_before_run = run.replace(day=1) - timedelta(days=1)
    card.exp_month, card.exp_year = month_before_run.month, month_before_run.year
    session.commit()
    for _ in range(2):  # RQ's cron has no lock: the job may run twice
        get_queue("default").enqueue("jobs.autoship.card_notices")
    run_worker("default", "mail")
    session.expire_all()
    assert notices(session) == [(profile.id, card.id, 30)]
    [mail] = session.scalars(select(OutboxMessage))
    assert mail.status == "held"  # no SMTP in tests: kept in the outbox, delivered by the job
    assert f"/autoship/{profile.id}?change=card#delivery" in mail.body
    assert get_queue("default").failed_job_registry.count == 0
    assert session.scalar(select(func.count()).select_from(CardExpiryNotice)) == 1
