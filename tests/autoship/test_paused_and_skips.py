"""A paused standing order says when it resumes and what ships after it, and its resume date
can be changed; skips follow the schedule they were made on, and undoing one tells the truth."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.autoship import lifecycle, schedule_changes
from portal.autoship.models import AutoshipEvent, AutoshipProfile, AutoshipSkip
from portal.autoship.profiles import AutoshipError, HORIZON_DAYS
from portal.autoship.queries import summarize
from portal.autoship.recurrence import Recurrence
from portal.errors import NotFound
from portal.orders.pricing import ShippingRule
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import csrf_token, log_in, post_form

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
DECEMBER = date(2026, 12, 15)


def details(session, profile, action):
    return session.scalars(select(AutoshipEvent.details).where(
        AutoshipEvent.profile_id == profile.id, AutoshipEvent.action == action)).all()


def skips(session, profile):
    return session.scalars(select(AutoshipSkip.skip_date).where(AutoshipSkip.profile_id == profile.id)
                           .order_by(AutoshipSkip.skip_date)).all()


# ------------------------------------------------------------------ paused: what happens next

def test_a_paused_standing_order_shows_its_resume_date_and_the_shipments_after_it(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2027, 2, 1), today=TODAY, rules=RULES)

    summary = summarize(profile, TODAY, RULES, SHIPPING)

    assert summary.resumes_on == date(2027, 2, 1)
    assert summary.upcoming[:3] == [date(2027, 2, 15), date(2027, 3, 15), date(2027, 4, 15)]


def test_paused_until_resumed_it_shows_what_resuming_today_would_ship(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    lifecycle.pause(session, user=member, profile=profile, resume_on=None, today=TODAY, rules=RULES)

    summary = summarize(profile, date(2026, 12, 20), RULES, SHIPPING)

    assert summary.resumes_on is None
    assert summary.upcoming[:2] == [date(2027, 1, 15), date(2027, 2, 15)]


def test_the_resume_date_of_a_paused_standing_order_can_be_changed(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2027, 2, 1), today=TODAY, rules=RULES)

    lifecycle.change_resume_date(session, user=member, profile=profile, resume_on=date(2027, 3, 20),
                                 today=TODAY)

    assert (profile.status, profile.paused_until) == ("paused", date(2027, 3, 20))
    assert summarize(profile, TODAY, RULES, SHIPPING).upcoming[:2] == [date(2027, 4, 15), date(2027, 5, 15)]
    assert details(session, profile, "resume date changed") == ["2027-02-01 → 2027-03-20"]


@pytest.mark.parametrize("resume_on, message", [
    (TODAY, "after today"),
    (TODAY - timedelta(days=3), "after today"),
    (TODAY + timedelta(days=HORIZON_DAYS + 1), "within the next twelve months"),
])
def test_a_resume_date_must_be_after_today_and_within_the_horizon(session, member, product, resume_on, message):
    profile = new_profile(session, member, product, first=DECEMBER)
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2027, 2, 1), today=TODAY, rules=RULES)
    with pytest.raises(AutoshipError, match=message) as refused:
        lifecycle.change_resume_date(session, user=member, profile=profile, resume_on=resume_on, today=TODAY)
    assert refused.value.field == "resume_on"
    with pytest.raises(AutoshipError, match=message) as refused:
        lifecycle.pause(session, user=member, profile=new_profile(session, member, product), resume_on=resume_on,
                        today=TODAY, rules=RULES)
    assert refused.value.field == "resume_on"
    assert profile.paused_until == date(2027, 2, 1)


def test_only_a_paused_standing_order_has_a_resume_date_to_change(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    with pytest.raises(AutoshipError, match="Only a paused standing order"):
        lifecycle.change_resume_date(session, user=member, profile=profile, resume_on=date(2027, 2, 1),
                                     today=TODAY)
    assert (profile.status, profile.paused_until) == ("active", None)


# ------------------------------------------------------------------ skips follow the schedule

def test_skips_of_dates_no_longer_in_the_schedule_are_dropped_when_it_changes(session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.every(2, "weeks"), first=date(2026, 12, 1))
    for day in (date(2026, 12, 15), date(2026, 12, 29), date(2027, 1, 26)):
        schedule_changes.skip_date(session, user=member, profile=profile, day=day, today=TODAY, rules=RULES)

    # Every four weeks from December 1: the 29th of December and the 26th of January remain.
    schedule_changes.change_schedule(session, user=member, profile=profile, rule=Recurrence.every(4, "weeks"),
                                     regularity="calendar", first_date=date(2026, 12, 1), today=TODAY,
                                     rules=RULES)

    assert skips(session, profile) == [date(2026, 12, 29), date(2027, 1, 26)]
    assert summarize(profile, TODAY, RULES, SHIPPING).skipped == [date(2026, 12, 29), date(2027, 1, 26)]
    assert details(session, profile, "skips dropped") == ["2026-12-15: not in the new schedule"]


def test_moving_the_schedule_for_good_drops_the_skips_it_no_longer_meets(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    schedule_changes.skip_date(session, user=member, profile=profile, day=date(2027, 2, 15), today=TODAY,
                               rules=RULES)
    schedule_changes.change_next_date(session, user=member, profile=profile, new_date=date(2026, 12, 20),
                                      move_anchor=True, today=TODAY, rules=RULES)
    assert skips(session, profile) == []
    assert summarize(profile, TODAY, RULES, SHIPPING).upcoming[:3] == [
        date(2026, 12, 20), date(2027, 1, 20), date(2027, 2, 20)]


def test_a_skip_no_longer_in_the_schedule_is_not_listed_and_undoing_it_says_so(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=date(2027, 1, 20)))  # kept from an older schedule
    session.flush()
    session.refresh(profile, ["skips"])

    assert summarize(profile, TODAY, RULES, SHIPPING).skipped == []
    with pytest.raises(AutoshipError, match="no longer a date of this standing order") as refused:
        schedule_changes.unskip_date(session, user=member, profile=profile, day=date(2027, 1, 20), today=TODAY,
                                     rules=RULES)
    assert refused.value.status == 422
    assert details(session, profile, "skip undone") == []
    assert profile.next_run_date == DECEMBER


def test_undoing_a_skip_that_does_not_exist_says_so(session, member, product):
    profile = new_profile(session, member, product, first=DECEMBER)
    with pytest.raises(NotFound, match="not skipped"):
        schedule_changes.unskip_date(session, user=member, profile=profile, day=date(2027, 1, 15), today=TODAY,
                                     rules=RULES)
    assert details(session, profile, "skip undone") == []


# ------------------------------------------------------------------ the pages

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)


@pytest.fixture
def paused_page(client, session, member, product, clock):
    clock(NOW)
    log_in(client, member)
    profile = new_profile(session, member, product, first=DECEMBER)
    lifecycle.pause(session, user=member, profile=profile, resume_on=date(2027, 2, 1), today=TODAY, rules=RULES)
    return profile, f"/autoship/{profile.id}"


def test_the_paused_page_shows_the_resume_date_and_the_next_shipment_after_it(client, paused_page):
    _, page = paused_page
    body = client.get(page).get_data(as_text=True)
    assert "Paused until <strong>Monday, February 1, 2027</strong>" in body
    assert "first shipment after it: <strong>Monday, February 15, 2027</strong>" in body
    assert "Nothing scheduled" not in body
    assert 'name="resume_on" required type="date" value="2027-02-01"' in body


def test_the_resume_date_is_changed_with_a_plain_form(client, session, paused_page):
    profile, page = paused_page
    response = post_form(client, f"{page}/resume-date", {"resume_on": "2027-03-20"}, page=page)
    assert response.status_code == 303 and response.headers["Location"] == page
    session.expire_all()
    assert session.get(AutoshipProfile, profile.id).paused_until == date(2027, 3, 20)
    body = client.get(page).get_data(as_text=True)
    assert "Resume date changed to Saturday, March 20, 2027." in body
    assert "first shipment after it: <strong>Thursday, April 15, 2027</strong>" in body


@pytest.mark.parametrize("resume_on, message", [
    ("2026-11-22", "The resume date must be after today."),
    ("2028-01-01", "Choose a date within the next twelve months."),
    ("", "Choose the date it resumes on."),
    ("soon", "Not a valid date value."),
])
def test_a_bad_resume_date_is_refused_beside_the_field(client, session, paused_page, resume_on, message):
    profile, page = paused_page
    response = post_form(client, f"{page}/resume-date", {"resume_on": resume_on}, page=page)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<small class="field-error" id="resume_on-error">{message}</small>' in body
    session.expire_all()
    assert session.get(AutoshipProfile, profile.id).paused_until == date(2027, 2, 1)


def test_htmx_changes_the_resume_date_and_answers_the_refreshed_profile(client, htmx, session, paused_page):
    profile, page = paused_page
    token = csrf_token(client, page)
    htmx.set_cookie("session", client.get_cookie("session").value)
    response = htmx.post(f"{page}/resume-date", data={"resume_on": "2027-03-20", "csrf_token": token})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="profile"' in body and "<html" not in body
    assert "Paused until <strong>Saturday, March 20, 2027</strong>" in body
    assert "first shipment after it: <strong>Thursday, April 15, 2027</strong>" in body


def test_undo_skip_on_a_page_tells_the_truth(client, session, member, product, clock):
    clock(NOW)
    log_in(client, member)
    profile = new_profile(session, member, product, first=DECEMBER)
    schedule_changes.skip_date(session, user=member, profile=profile, day=date(2027, 1, 15), today=TODAY,
                               rules=RULES)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=date(2027, 1, 20)))  # kept from an older schedule
    page = f"/autoship/{profile.id}"
    assert "Undo skip: Wed, Jan 20, 2027" not in client.get(page).get_data(as_text=True)

    stale = post_form(client, f"{page}/unskip", {"day": "2027-01-20"}, page=page)
    assert stale.status_code == 422
    assert "Wednesday, January 20 is no longer a date of this standing order" in stale.get_data(as_text=True)
    assert "Skip undone" not in stale.get_data(as_text=True)

    undone = post_form(client, f"{page}/unskip", {"day": "2027-01-15"}, page=page)
    assert undone.status_code == 303
    body = client.get(page).get_data(as_text=True)
    assert "Friday, January 15 is a shipment date again." in body
    assert post_form(client, f"{page}/unskip", {"day": "2027-01-15"}, page=page).status_code == 404
