"""The one clock: every "now" and "today" comes from portal.clock, and tests stop it one way."""

from datetime import date, datetime, timezone

import pytest

from portal.clock import company_today, frozen_at, utcnow
from portal.autoship.engine import start_run
from portal.autoship.runs import run_for_today_is_due
from tests.factories import make_user


def test_the_company_today_is_the_date_in_the_company_timezone_not_in_utc(app, clock):
    clock(datetime(2026, 12, 8, 3, 30, tzinfo=timezone.utc))
    assert utcnow() == datetime(2026, 12, 8, 3, 30, tzinfo=timezone.utc)
    assert app.config["COMPANY_TIMEZONE"] == "America/Chicago"
    assert company_today() == date(2026, 12, 7)
    assert company_today({"COMPANY_TIMEZONE": "Europe/Berlin"}) == date(2026, 12, 8)


def test_the_clock_runs_again_after_the_frozen_block():
    with frozen_at(datetime(2001, 1, 1, tzinfo=timezone.utc)):
        assert utcnow().year == 2001
    assert utcnow().year >= 2026


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        with frozen_at(datetime(2026, 12, 7, 12)):
            pass


def test_rows_written_while_the_clock_is_stopped_carry_its_time(session, clock):
    clock(datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc))
    user = make_user(session)
    session.flush()
    session.expire(user)
    assert user.created_at == datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("utc, due", [
    (datetime(2026, 12, 7, 7, 59, tzinfo=timezone.utc), None),               # 01:59 in Chicago
    (datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc), date(2026, 12, 7)),   # 02:00, the run time
    (datetime(2026, 12, 8, 5, 0, tzinfo=timezone.utc), date(2026, 12, 7)),   # 23:00, still the 7th
])
def test_the_daily_run_is_due_from_its_start_time_in_the_company_timezone(app, session, clock, utc, due):
    clock(utc)
    assert run_for_today_is_due(session, app.config) == due


def test_the_daily_run_is_not_due_twice(app, session, clock):
    clock(datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc))
    start_run(session, as_of=date(2026, 12, 7), trigger="cron", chunk_size=100)
    assert run_for_today_is_due(session, app.config) is None
