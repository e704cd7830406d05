"""A schedule nobody can plan: refused where it is chosen, set aside where it is found.

"Every 7 days, only on Monday", counted from a Tuesday, has no date at all. On a rolling
schedule it was accepted, and the run's chunk then failed for everyone in it; its pages
answered 500 and it could not even be cancelled.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select

from portal.autoship import calendar_tokens, engine, profiles, queries, schedule_changes
from portal.autoship.engine import EngineRules
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile, AutoshipReminder
from portal.autoship.notices import send_reminders
from portal.autoship.recurrence import Recurrence
from portal.autoship.volume import refresh_cycle_pv, repair_cycle_pv
from portal.clock import company_today
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import log_in, post_form
from tests.factories import make_admin

BAD_RULE = "FREQ=DAILY;INTERVAL=7;BYDAY=MO"
SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
REASON = "has no date after"


def tuesday_on_or_before(day: date) -> date:
    return day - timedelta(days=(day.weekday() - 1) % 7)


def insert_profiles(session, member, product, *, count: int, due: date, bad_at: int | None = None,
                    rrule: str = "FREQ=MONTHLY;INTERVAL=1", regularity: str = "calendar") -> list[int]:
    """``count`` active profiles due on ``due``, written straight into the tables (as old data
    would be), the one at position ``bad_at`` with the rolling rule that has no date."""
    tuesday = tuesday_on_or_before(due)
    rows = []
    for n in range(count):
        bad = n == bad_at
        rows.append({"user_id": member.id, "name": "Never plannable" if bad else f"P{n}", "status": "active",
                     "rrule": BAD_RULE if bad else rrule, "anchor_date": tuesday if bad else due,
                     "regularity": "rolling" if bad else regularity,
                     "next_run_date": tuesday if bad else due, "address_id": member.home.id,
                     "payment_method_id": member.card.id, "shipping_method": "standard",
                     "price_policy": "run_time", "out_of_stock_policy": "backorder"})
    session.execute(insert(AutoshipProfile), rows)
    ids = list(session.scalars(select(AutoshipProfile.id).order_by(AutoshipProfile.id)))[-count:]
    session.execute(insert(AutoshipItem), [
        {"profile_id": pid, "product_id": product.id, "unit_code": "case", "quantity": 1} for pid in ids])
    refresh_cycle_pv(session, every_profile=True)  # bulk inserts bypass the services
    session.commit()
    return ids


# ------------------------------------------------------------------ refused where chosen

@pytest.mark.parametrize("anchor, regularity", [(date(2026, 12, 1), "rolling"),   # a Tuesday
                                                (date(2026, 12, 1), "calendar"),
                                                (date(2026, 12, 7), "rolling")])  # a Monday: fine once
def test_a_schedule_without_a_next_date_is_refused_when_created_or_changed(session, member, product,
                                                                           anchor, regularity):
    rule = Recurrence.parse(BAD_RULE)
    with pytest.raises(profiles.AutoshipError) as refused:
        new_profile(session, member, product, rule=rule, first=anchor, regularity=regularity)
    assert refused.value.field == "rrule"
    assert "no date" in refused.value.message
    profile = new_profile(session, member, product)
    with pytest.raises(profiles.AutoshipError, match="no date"):
        schedule_changes.change_schedule(session, user=member, profile=profile, rule=rule, regularity=regularity,
                                         first_date=anchor, today=TODAY, rules=RULES)
    with pytest.raises(profiles.AutoshipError, match="no date"):
        schedule_changes.preview(rule, regularity, anchor)


def test_the_rolling_refusal_says_why_and_what_to_do(session, member, product):
    with pytest.raises(profiles.AutoshipError) as refused:
        new_profile(session, member, product, rule=Recurrence.parse(BAD_RULE), first=date(2026, 12, 7),
                    regularity="rolling")
    assert refused.value.message == (
        "A rolling schedule counts from the day each order is placed, and “Every 7 days, only on "
        "Monday” has no date after Tuesday, December 8, 2026. Choose a calendar schedule or another rule.")


@pytest.mark.parametrize("rrule, regularity, shipments", [  # each first shipped on Monday, December 7
    ("FREQ=DAILY;INTERVAL=7;BYDAY=MO", "calendar", [date(2026, 12, 7), date(2026, 12, 14), date(2026, 12, 21)]),
    ("FREQ=DAILY;INTERVAL=10;BYDAY=MO", "rolling", [date(2026, 12, 7), date(2027, 2, 15), date(2027, 4, 26)]),
    ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "rolling", [date(2026, 12, 7), date(2026, 12, 10), date(2026, 12, 21)]),
    ("FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=31", "rolling", [date(2026, 12, 7), date(2026, 12, 31), date(2027, 1, 31)]),
    ("FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR", "rolling", [date(2026, 12, 7), date(2026, 12, 25), date(2027, 2, 26)]),
    ("FREQ=MONTHLY;INTERVAL=1;COUNT=1", "calendar", [date(2026, 12, 7)])])
def test_schedules_the_engine_can_plan_are_still_accepted(session, member, product, rrule, regularity, shipments):
    profile = new_profile(session, member, product, rule=Recurrence.parse(rrule), first=date(2026, 12, 7),
                          regularity=regularity)
    summary = queries.summarize(profile, TODAY, RULES, SHIPPING)  # what the profile's page shows
    assert (profile.status, profile.next_run_date, summary.unplannable) == ("active", date(2026, 12, 7), None)
    assert summary.upcoming[:3] == shipments


def test_the_new_form_the_schedule_form_and_the_preview_refuse_it_beside_the_rule(client, session, member,
                                                                                  product):
    log_in(client, member)
    tuesday = tuesday_on_or_before(company_today() + timedelta(days=9)).isoformat()  # open for changes
    schedule = {"kind": "rrule", "rrule": BAD_RULE, "regularity": "rolling", "first_date": tuesday,
                "interval": 1, "day": 1, "nth": "1", "weekday": "MO"}
    preview = client.get("/autoship/preview", query_string=schedule)
    assert preview.status_code == 422 and REASON in preview.get_data(as_text=True)
    created = post_form(client, "/autoship/new", {
        **schedule, "name": "Weekly", "product_id": product.id, "unit": "each", "quantity": 1,
        "address_id": member.home.id, "card_id": member.card.id, "shipping_method": "standard",
        "price_policy": "run_time"}, page="/autoship/new")
    assert created.status_code == 422
    assert REASON in created.get_data(as_text=True).split('name="rrule"', 1)[1]  # beside the field
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0
    profile = new_profile(session, member, product, first=company_today() + timedelta(days=20))
    session.commit()
    changed = post_form(client, f"/autoship/{profile.id}/schedule", schedule, page=f"/autoship/{profile.id}")
    assert changed.status_code == 422 and REASON in changed.get_data(as_text=True)
    session.expire_all()
    assert session.get(AutoshipProfile, profile.id).rrule == "FREQ=MONTHLY;INTERVAL=1"


# ------------------------------------------------------------------ set aside where found

def test_the_run_orders_everyone_else_and_sets_the_unplannable_profile_aside(session, member, product):
    as_of = date(2026, 12, 1)  # a Tuesday
    ids = insert_profiles(session, member, product, count=300, due=as_of, bad_at=150)
    bad_id = ids[150]

    run = engine.run_in_process(session, as_of=as_of, trigger="test",
                                rules=EngineRules(shipping=SHIPPING, chunk_size=100))
    session.expire_all()

    assert (run.status, run.due, run.created, run.set_aside, run.chunks_done) == ("done", 300, 299, 1, 3)
    ordered = set(session.scalars(select(Order.autoship_profile_id)))
    assert ordered == set(ids) - {bad_id}
    bad = session.get(AutoshipProfile, bad_id)
    assert bad.status == "unplannable" and bad.status_label == "Needs a new schedule"
    assert "'Every 7 days, only on Monday' has no date after 2026-12-01" in bad.set_aside_reason
    assert session.scalar(select(AutoshipEvent.details).where(AutoshipEvent.profile_id == bad_id,
                                                              AutoshipEvent.action == "set aside")) \
        == bad.set_aside_reason
    assert all(p.next_run_date == date(2027, 1, 1) for p in session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.id != bad_id)))

    again = engine.run_in_process(session, as_of=as_of + timedelta(days=1), trigger="test",
                                  rules=EngineRules(shipping=SHIPPING, chunk_size=100))
    assert (again.status, again.due, again.set_aside) == ("done", 0, 0)  # set aside once, not every run


def test_a_paused_profile_that_cannot_resume_is_set_aside_and_the_run_goes_on(session, member, product):
    as_of = date(2026, 12, 1)
    ids = insert_profiles(session, member, product, count=3, due=as_of, bad_at=1)
    paused = session.get(AutoshipProfile, ids[1])
    paused.status, paused.rrule, paused.paused_until = "paused", "FREQ=MONTHLY;BYDAY=9XX", as_of
    session.commit()
    run = engine.run_in_process(session, as_of=as_of, trigger="test", rules=EngineRules(shipping=SHIPPING))
    session.expire_all()
    assert (run.status, run.created) == ("done", 2)
    assert session.get(AutoshipProfile, ids[1]).status == "unplannable"
    assert "not understood" in session.get(AutoshipProfile, ids[1]).set_aside_reason


@pytest.mark.slow
def test_one_unplannable_profile_beside_three_thousand_due_ones(session, member, product):
    as_of = date(2026, 12, 1)
    ids = insert_profiles(session, member, product, count=3001, due=as_of, bad_at=1700)
    run = engine.run_in_process(session, as_of=as_of, trigger="test",
                                rules=EngineRules(shipping=SHIPPING, chunk_size=1000))
    session.expire_all()
    assert (run.status, run.due, run.created, run.set_aside) == ("done", 3001, 3000, 1)
    assert session.get(AutoshipProfile, ids[1700]).status == "unplannable"
    assert session.scalar(select(func.count()).select_from(Order)) == 3000


# ------------------------------------------------------------------ every page shows it

def pages_showing(member, profile_id: int) -> dict[str, list[str]]:
    return {"member": [f"/autoship/{profile_id}", "/autoship/", "/home"],
            "upline": [f"/team/people/{member.member_number}", "/team/autoships", "/team/attention",
                       "/team/totals"],
            "admin": [f"/admin/autoship/profiles/{profile_id}", "/admin/autoship/profiles",
                      "/admin/autoship/forecast"]}


WITH_REASON = ("/autoship/{id}", "/autoship/", "/home", "/team/people/{number}",
               "/admin/autoship/profiles/{id}")


def test_every_page_shows_it_before_and_after_the_run_with_what_to_do(app, client, session, member, product):
    today = company_today()
    ids = insert_profiles(session, member, product, count=3, due=today, bad_at=1)
    bad_id = ids[1]
    people = {"member": member, "upline": session.get(type(member), member.sponsor_id),
              "admin": make_admin(session)}
    token = calendar_tokens.issue_calendar_token(session, user=member)
    session.commit()
    with_reason = {url.format(id=bad_id, number=member.member_number) for url in WITH_REASON}

    def every_page_answers(expect_reason: bool) -> dict[str, str]:
        seen = {}
        for who, urls in pages_showing(member, bad_id).items():
            browser = log_in(app.test_client(), people[who])
            for url in urls:
                response = browser.get(url)
                assert response.status_code == 200, (who, url, response.get_data(as_text=True)[-2000:])
                seen[url] = response.get_data(as_text=True)
                if expect_reason and url in with_reason:
                    assert REASON in seen[url], (who, url)
        feed = app.test_client().get(f"/autoship/calendar/{token}.ics")
        assert feed.status_code == 200 and feed.get_data(as_text=True).count("BEGIN:VEVENT") >= 2
        return seen

    every_page_answers(expect_reason=False)  # still active: the run has not found it yet
    run = engine.run_in_process(session, as_of=today, trigger="test", rules=EngineRules(shipping=SHIPPING))
    assert (run.status, run.created, run.set_aside) == ("done", 2, 1)
    seen = every_page_answers(expect_reason=True)

    own = seen[f"/autoship/{bad_id}"]
    assert "No shipment can be planned" in own and "Choose a new schedule below" in own
    assert "Needs a new schedule" in own and "Cancel standing order" in own
    assert "Never plannable</a> needs a new schedule" in seen["/home"]
    assert "Only " + member.first_name + " can choose a new schedule" in seen[f"/team/people/{member.member_number}"]
    assert "Never plannable" in seen["/team/attention"] and "Needs a new schedule" in seen["/team/attention"]
    assert "Set aside by the engine" in seen[f"/admin/autoship/profiles/{bad_id}"]


def test_it_can_be_given_a_new_schedule_which_makes_it_active_again(client, session, member, product):
    today = company_today()
    bad_id = insert_profiles(session, member, product, count=1, due=today, bad_at=0)[0]
    engine.run_in_process(session, as_of=today, trigger="test", rules=EngineRules(shipping=SHIPPING))
    log_in(client, member)
    first = today + timedelta(days=10)
    response = post_form(client, f"/autoship/{bad_id}/schedule", {
        "kind": "every_weeks", "interval": 2, "day": 1, "nth": "1", "weekday": "MO", "rrule": "",
        "regularity": "rolling", "first_date": first.isoformat()}, page=f"/autoship/{bad_id}")
    assert response.status_code == 303
    session.expire_all()
    profile = session.get(AutoshipProfile, bad_id)
    assert (profile.status, profile.next_run_date, profile.set_aside_reason) == ("active", first, None)
    page = client.get(f"/autoship/{bad_id}").get_data(as_text=True)
    assert "Next shipment" in page and "No shipment can be planned" not in page


@pytest.mark.parametrize("set_aside_first", [True, False])
def test_it_can_always_be_cancelled(client, session, member, product, set_aside_first):
    today = company_today()
    if set_aside_first:  # overdue, but nothing of it is being prepared: no cutoff applies
        bad_id = insert_profiles(session, member, product, count=1, due=today, bad_at=0)[0]
        engine.run_in_process(session, as_of=today, trigger="test", rules=EngineRules(shipping=SHIPPING))
    else:  # still active, its next date beyond the cutoff
        bad_id = insert_profiles(session, member, product, count=1, due=today + timedelta(days=20), bad_at=0)[0]
    log_in(client, member)
    response = post_form(client, f"/autoship/{bad_id}/cancel", page=f"/autoship/{bad_id}")
    assert response.status_code == 303
    session.expire_all()
    assert session.get(AutoshipProfile, bad_id).status == "cancelled"
    assert "Cancelled" in client.get(f"/autoship/{bad_id}").get_data(as_text=True)


def test_actions_that_need_its_dates_answer_with_a_message_not_a_500(client, session, member, product):
    today = company_today()
    bad_id = insert_profiles(session, member, product, count=1, due=today + timedelta(days=20), bad_at=0)[0]
    profile = session.get(AutoshipProfile, bad_id)
    profile.rrule = "FREQ=MONTHLY;BYDAY=9XX"  # stored before the parser refused such rules
    session.commit()
    log_in(client, member)
    for action, data in (("ship-now", {}), ("skip", {"day": profile.next_run_date.isoformat()}),
                         ("next-date", {"new_date": (today + timedelta(days=30)).isoformat(), "mode": "anchor"})):
        response = post_form(client, f"/autoship/{bad_id}/{action}", data, page=f"/autoship/{bad_id}")
        assert response.status_code in (409, 422), (action, response.status_code)
        assert "not understood any more" in response.get_data(as_text=True), action
        assert "Choose a new schedule" in response.get_data(as_text=True), action
    assert session.scalar(select(func.count()).select_from(Order)) == 0


# ------------------------------------------------------------------ the other batch jobs

def test_reminders_go_to_everyone_else_and_not_to_a_profile_set_aside(session, member, product):
    today = company_today()
    ids = insert_profiles(session, member, product, count=3, due=today + timedelta(days=3), bad_at=1)
    bad = session.get(AutoshipProfile, ids[1])
    bad.next_run_date = today + timedelta(days=3)  # an active one with the rule no date follows
    session.commit()
    assert send_reminders(session, today=today, days_ahead=3, base_url="https://portal.test",
                          shipping=SHIPPING) == 3
    session.execute(AutoshipReminder.__table__.delete())
    bad.status, bad.set_aside_reason = "unplannable", "Its schedule cannot be planned."
    session.commit()
    assert send_reminders(session, today=today, days_ahead=3, base_url="https://portal.test",
                          shipping=SHIPPING) == 2
    assert set(session.scalars(select(AutoshipReminder.profile_id))) == {ids[0], ids[2]}


def test_pv_repair_checks_a_profile_whose_schedule_cannot_be_expanded(session, member, product):
    ids = insert_profiles(session, member, product, count=3, due=company_today(), bad_at=1)
    session.execute(AutoshipProfile.__table__.update().values(cycle_pv=1, status="unplannable")
                    .where(AutoshipProfile.id == ids[1]))
    session.commit()
    repair = repair_cycle_pv(session)
    assert (repair.checked, repair.fixed_ids) == (3, [ids[1]])
    assert session.get(AutoshipProfile, ids[1]).cycle_pv == Decimal("96.00")


def test_a_reminder_that_cannot_be_written_is_logged_and_the_others_go(session, member, product, monkeypatch,
                                                                       caplog):
    from portal.autoship import notices
    today = company_today()
    ids = insert_profiles(session, member, product, count=3, due=today + timedelta(days=3))
    real = notices.priced_items

    def priced_items(profile):
        if profile.id == ids[1]:
            raise ValueError("a row nobody foresaw")
        return real(profile)
    monkeypatch.setattr(notices, "priced_items", priced_items)
    assert send_reminders(session, today=today, days_ahead=3, base_url="https://portal.test",
                          shipping=SHIPPING) == 2
    session.commit()
    assert set(session.scalars(select(AutoshipReminder.profile_id))) == {ids[0], ids[2]}
    assert f"autoship reminder for profile {ids[1]}" in caplog.text and "a row nobody foresaw" in caplog.text
    monkeypatch.setattr(notices, "priced_items", real)  # fixed: the next tick sends it
    assert send_reminders(session, today=today, days_ahead=3, base_url="https://portal.test",
                          shipping=SHIPPING) == 1


def test_a_charge_that_fails_unexpectedly_stays_pending_and_the_others_are_charged(app, session, redis, member,
                                                                                   product, monkeypatch, caplog):
    from portal.orders import charging
    from portal.orders.billing import orders_with_stale_attempts
    from portal.orders.models import ChargeAttempt
    from portal.payments.gateway import SandboxGateway
    from portal.clock import utcnow
    as_of = date(2026, 12, 1)
    insert_profiles(session, member, product, count=3, due=as_of)
    engine.run_in_process(session, as_of=as_of, trigger="test", rules=EngineRules(shipping=SHIPPING))
    order_ids = list(session.scalars(select(Order.id).order_by(Order.id)))
    real, calls = SandboxGateway.charge, []

    def charge(gateway, token, amount, currency, *, idempotency_key):
        calls.append(idempotency_key)
        if len(calls) == 2:
            raise RuntimeError("the gateway's answer could not be read")
        return real(gateway, token, amount, currency, idempotency_key=idempotency_key)
    monkeypatch.setattr(SandboxGateway, "charge", charge)
    result = charging.charge(app, session, order_ids, as_of)
    assert sorted(result.paid) == [order_ids[0], order_ids[2]]
    assert "unexpected gateway failure" in caplog.text
    assert session.get(Order, order_ids[1]).status == "pending_payment"
    assert session.scalar(select(ChargeAttempt.outcome).where(ChargeAttempt.order_id == order_ids[1])) == "pending"
    assert orders_with_stale_attempts(session, utcnow() + timedelta(seconds=1)) == [order_ids[1]]
