"""The volume commands, saving rank plans, the period rules and how orders keep periods current."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from jobs.volume import pending_refreshes, refresh
from portal.orders.models import Order
from portal.volume.models import OrderRefundVolume, PersonVolume, RankPlanVersion
from portal.volume.periods import (BadPeriod, parse_period, period_bounds, period_of,
                                   previous_periods)
from portal.volume.plan import EXAMPLE_PLAN, PlanInvalid
from portal.volume.rank_plans import plan_in_force, save_plan
from portal.volume.rules import counted_pv, counts_in, counts_in_sql
from tests.factories import make_ibo, make_user
from tests.volume.builders import cancel, make_order, paid_order, refund

NOW = datetime(2026, 12, 20, 12, tzinfo=timezone.utc)
DEC = date(2026, 12, 1)


def at(day, month=12, hour=12):
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def team(session, clock):
    clock(NOW)
    top = make_ibo(session, root=True, member_number="30000001")
    left = make_ibo(session, sponsor=top, member_number="30000002")
    right = make_ibo(session, sponsor=top, member_number="30000003")
    paid_order(session, top, "120", at(2))
    paid_order(session, left, "700", at(3))
    paid_order(session, right, "55", at(4))
    session.commit()
    return top, left, right


def test_show_prints_the_standing_as_json(app, team):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["volume", "recompute", "--period", "2026-12"]).exit_code == 0
    result = runner.invoke(args=["volume", "show", "--member", "30000001", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "member": "30000001", "period": "2026-12", "pv": "120", "gv": "875",
        "legs": [{"member": "30000002", "gv": "700", "rank": "bronze"},
                 {"member": "30000003", "gv": "55", "rank": "associate"}],
        "rank": "bronze", "next_rank": "silver", "missing": ["1,125 GV to go"]}
    november = json.loads(runner.invoke(args=["volume", "show", "--member", "30000002",
                                              "--period", "2026-11", "--json"]).output)
    assert (november["pv"], november["rank"], november["legs"]) == ("0", None, [])


def test_recompute_shows_progress_and_its_summary(app, team):
    result = app.test_cli_runner().invoke(args=["volume", "recompute", "--period", "2026-12"])
    assert result.exit_code == 0, result.output
    assert "Recomputing 2026-12" in result.stderr
    assert "2026-12: 3 people with volume, 3 paid as a rank" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["volume", "recompute", "--period", "2026-13"], "Write the period as YYYY-MM, e.g. 2026-12."),
    (["volume", "recompute", "--period", "dec"], "Write the period as YYYY-MM, e.g. 2026-12."),
    (["volume", "show", "--member", "30000001", "--period", "2027-01"], "January 2027 has not started yet."),
    (["volume", "show", "--member", "99999999"], "No member or IBO has the number '99999999'."),
])
def test_bad_input_is_a_clear_error_with_exit_code_2(app, team, args, message):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_recomputing_a_closed_period_is_refused_with_its_reason(app, session, team):
    from portal.volume.computation import close_period

    close_period(session, date(2026, 11, 1), actor=None)
    session.commit()
    result = app.test_cli_runner().invoke(args=["volume", "recompute", "--period", "2026-11"])
    assert result.exit_code == 1
    assert "November 2026 is closed: its volume no longer changes." in result.output


def test_periods_are_company_months_written_yyyy_mm(app):
    assert parse_period("2026-02", today=date(2026, 2, 1)) == date(2026, 2, 1)
    with pytest.raises(BadPeriod, match="March 2026 has not started yet."):
        parse_period("2026-03", today=date(2026, 2, 28))
    start, end = period_bounds(date(2026, 12, 1))
    assert (start, end) == (datetime(2026, 12, 1, 6, tzinfo=timezone.utc),
                            datetime(2027, 1, 1, 6, tzinfo=timezone.utc))
    assert period_of(datetime(2027, 1, 1, 5, 59, tzinfo=timezone.utc)) == date(2026, 12, 1)
    assert previous_periods(date(2026, 2, 1), 3) == [date(2025, 12, 1), date(2026, 1, 1),
                                                     date(2026, 2, 1)]


def test_a_saved_plan_is_in_force_from_its_period(session, clock):
    clock(NOW)
    version, plan = plan_in_force(session, DEC)
    assert (version.version, plan.ranks[0].code) == (0, "associate")    # the example, unsaved
    document = copy.deepcopy(EXAMPLE_PLAN)
    document["ranks"][0]["min_pv"] = "40"
    save_plan(session, EXAMPLE_PLAN, effective_from=date(2026, 1, 1), actor=None, note="first")
    save_plan(session, document, effective_from=DEC, actor=None, note="lower entry")
    assert plan_in_force(session, date(2026, 11, 1))[0].version == 1
    assert plan_in_force(session, DEC)[1].ranks[0].min_pv == D("40")


def test_a_plan_that_cannot_work_saves_nothing(session, clock):
    clock(NOW)
    document = copy.deepcopy(EXAMPLE_PLAN)
    document["ranks"][2]["legs"] = [{"count": 2, "rank": "emerald"}]
    document["ranks"][1]["min_gv"] = "-5"
    with pytest.raises(PlanInvalid) as refused:
        save_plan(session, document, effective_from=DEC, actor=None)
    assert refused.value.reasons == ["Bronze's minimum GV cannot be negative."]   # then the legs
    assert session.scalar(select(func.count()).select_from(RankPlanVersion)) == 0


def test_the_counting_rule_reads_the_same_in_python_and_sql(session, clock):
    clock(NOW)
    buyer = make_ibo(session, root=True)
    start, end = datetime(2026, 12, 1, 6, tzinfo=timezone.utc), datetime(2027, 1, 1, 6, tzinfo=timezone.utc)
    orders = [make_order(session, buyer, "10"), paid_order(session, buyer, "20", at(1, hour=5)),
              paid_order(session, buyer, "30", at(1, hour=6)), paid_order(session, buyer, "40", at(19))]
    cancel(session, orders[3], at(19))
    refund(session, orders[2], "4", at(19))
    counted_sql = set(session.scalars(select(Order.id).where(counts_in_sql(start, end))))
    assert {o.id for o in orders if counts_in(o, start, end)} == counted_sql == {orders[2].id}
    assert counted_pv(orders[2], D("4")) == D("26")


def test_a_paid_order_asks_for_one_coalesced_refresh_after_the_commit(app, session, team, redis):
    top, left, right = team
    from portal.volume.computation import recompute_period

    recompute_period(session, DEC)
    session.commit()
    redis.flushdb()
    member = make_user(session, sponsor=right)
    first = paid_order(session, member, "500", at(20))
    assert pending_refreshes(DEC) == 0          # nothing before the commit
    session.commit()
    second = paid_order(session, left, "10", at(20))
    session.commit()
    assert pending_refreshes(DEC) == 2
    assert len(redis.lrange("rq:queue:default", 0, -1)) == 1   # one job for the burst
    refresh(DEC.isoformat())
    assert pending_refreshes(DEC) == 0
    row = session.get(PersonVolume, (DEC, right.id))
    assert (row.pv, row.rank) == (D("555"), "bronze")
    assert session.get(PersonVolume, (DEC, top.id)).gv == D("1385")
    assert first.id and second.id


def test_a_rolled_back_payment_asks_for_nothing(session, team):
    top, left, right = team
    assert pending_refreshes(DEC) == 3          # the team's three orders
    paid_order(session, make_user(session, sponsor=left), "10", at(20))
    session.rollback()
    session.commit()
    assert pending_refreshes(DEC) == 3


def test_a_refund_is_recorded_once_whatever_the_signal_says_twice(session, team):
    top, left, right = team
    order = session.scalars(select(Order).where(Order.user_id == left.id)).one()
    refund(session, order, "100", at(21), refund_id=9009)
    refund(session, order, "100", at(21), refund_id=9009)
    assert session.scalar(select(func.sum(OrderRefundVolume.pv))) == D("100")


def test_cron_recomputes_the_open_period_every_night(app):
    from jobs.cron import schedule
    from jobs.volume import recompute_open

    assert {"func": recompute_open, "queue_name": "default",
            "cron": app.config["VOLUME_RECOMPUTE_CRON"]} in schedule(app)


def test_the_nightly_recompute_puts_right_a_refresh_that_never_came(app, session, team):
    from jobs.volume import recompute_open

    top, left, right = team
    recompute_open()
    assert session.get(PersonVolume, (DEC, top.id)).gv == D("875")
