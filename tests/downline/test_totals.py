"""Team totals: the forecast PV by month and level, and counts by status."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import event

from portal.autoship.models import AutoshipProfile, AutoshipSkip
from portal.autoship.profiles import schedule_of
from portal.clock import company_today
from portal.downline.totals import team_totals
from portal.extensions import db


def test_totals_match_the_schedules_stepped_one_by_one(session, team):
    today = company_today()
    totals = team_totals(session, team.people[1], today)
    end = (totals.months[-1].month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    expected: dict[date, Decimal] = {}
    active = [p for p in session.query(AutoshipProfile).filter_by(status="active")
              if p.user_id in {team.people[n].id for n in (11, 1111)}]
    for profile in active:
        pv = sum(i.quantity * Decimal("8.00") for i in profile.items)
        for day in schedule_of(profile).upcoming(profile.next_run_date, 10):
            if day <= end:
                month = max(day, today).replace(day=1)
                expected[month] = expected.get(month, Decimal(0)) + pv
    assert {m.month: m.pv for m in totals.months if m.pv} == expected
    assert totals.profiles_by_status == {"active": 3, "payment_failed": 1, "unplannable": 0, "paused": 1,
                                         "cancelled": 0}
    assert totals.people_by_status == {"active": 2, "paused": 1, "payment_failed": 1, "unplannable": 0,
                                       "cancelled": 0, "none": 0}
    assert totals.people == 4
    assert set(totals.levels) <= {1, 2}


def test_the_totals_are_one_statement_and_one_more_for_skipped_dates(session, team):
    today = company_today()

    def statements_for(ancestor) -> int:
        statements = []
        engine = db.engine
        listener = lambda *args, **kwargs: statements.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            team_totals(session, ancestor, today)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    ancestors = [team.people[9], team.people[1], team.people[121]]
    assert all(a.tree_path for a in ancestors)  # loaded before counting
    assert [statements_for(a) for a in ancestors] == [1, 1, 1]
    profile = team.profiles[11]
    session.add(AutoshipSkip(profile_id=profile.id,
                             skip_date=schedule_of(profile).following(profile.next_run_date)))
    session.commit()
    assert all(a.tree_path for a in ancestors)
    assert [statements_for(a) for a in ancestors] == [2, 2, 1]


def test_totals_of_an_empty_downline(session, team):
    totals = team_totals(session, team.people[121], company_today())
    assert all(m.pv == 0 for m in totals.months) and totals.people == 0


def test_skipped_dates_are_left_out_of_the_forecast(session, team):
    today = company_today()
    before = team_totals(session, team.people[1], today)
    profile = team.profiles[11]
    second = schedule_of(profile).following(profile.next_run_date)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=second))
    session.commit()
    after = team_totals(session, team.people[1], today)
    in_window = second.replace(day=1) in {m.month for m in before.months}
    lost = sum(m.pv for m in before.months) - sum(m.pv for m in after.months)
    assert lost == (Decimal("16.00") if in_window else 0)
    assert after.schedules_computed == before.schedules_computed
