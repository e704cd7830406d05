"""The points rule book's two faces agree (each rule in Python and evaluated by PostgreSQL
from its expression), and a program is data: the example is stored, a bad one refused with
every reason."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Date, Integer, Numeric, literal, select

from portal.db import Money
from portal.loyalty.program import current_program, store_program
from portal.loyalty.rules import (EXAMPLE, EXAMPLE_PROGRAM, InvalidProgram, company_date,
                                  company_date_sql, month_index, month_index_sql, parse_program,
                                  streak_months)
from portal.loyalty.models import LoyaltyProgram

D = Decimal
CHICAGO = "America/Chicago"


def evaluated(session, expression):
    return session.scalar(select(expression))


@pytest.mark.parametrize("months, rate", [(-1, 10), (0, 10), (1, 10), (3, 10), (4, 15), (6, 15), (7, 20),
                                          (9, 20), (10, 25), (12, 25), (13, 30), (40, 30)])
def test_the_rate_by_month_count_is_the_ladder_on_both_faces(session, months, rate):
    assert EXAMPLE_PROGRAM.rate_for(months) == rate
    assert evaluated(session, EXAMPLE_PROGRAM.rate_sql(literal(months, Integer))) == rate


@pytest.mark.parametrize("subtotal, rate, points", [
    (D("0.00"), D("10"), 0), (D("0.09"), D("10"), 0), (D("0.10"), D("10"), 1),   # rounded down
    (D("87.55"), D("10"), 875), (D("87.55"), D("15"), 1313), (D("99.99"), D("12.5"), 1249),
    (D("1234.56"), D("30"), 37036), (D("100.00"), D("0.01"), 1),
])
def test_points_earned_are_rounded_down_the_same_way_on_both_faces(session, subtotal, rate, points):
    assert EXAMPLE_PROGRAM.points_earned(subtotal, rate) == points
    assert evaluated(session, EXAMPLE_PROGRAM.points_earned_sql(literal(subtotal, Money),
                                                                literal(rate, Numeric(5, 2)))) == points


def test_points_earned_with_a_point_worth_more_than_a_cent(session):
    program = parse_program({**EXAMPLE, "point_value": "0.25"})
    assert program.points_earned(D("100.00"), D("10")) == 40
    assert evaluated(session, program.points_earned_sql(literal(D("100.00"), Money),
                                                        literal(D("10"), Numeric(5, 2)))) == 40
    assert program.points_price(D("10.01")) == 41 and program.value_of(41) == D("10.25")


@pytest.mark.parametrize("earned, expires", [
    (date(2026, 3, 5), date(2027, 3, 5)), (date(2028, 2, 29), date(2029, 2, 28)),
    (date(2026, 12, 31), date(2027, 12, 31)),
])
def test_expiry_is_twelve_calendar_months_on_both_faces(session, earned, expires):
    assert EXAMPLE_PROGRAM.expires_on(earned) == expires
    assert evaluated(session, EXAMPLE_PROGRAM.expires_on_sql(literal(earned, Date))) == expires


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 1, 5, 59, tzinfo=timezone.utc),   # still February in Chicago
    datetime(2026, 3, 1, 6, 0, tzinfo=timezone.utc),
    datetime(2027, 1, 1, 3, 0, tzinfo=timezone.utc),    # still 2026 in Chicago
    datetime(2026, 11, 1, 7, 30, tzinfo=timezone.utc),  # the night summer time ends
])
def test_months_are_company_months_on_both_faces(session, moment):
    local = company_date(moment, CHICAGO)
    assert evaluated(session, company_date_sql(literal(moment), CHICAGO)) == local
    assert evaluated(session, month_index_sql(literal(moment), CHICAGO)) == month_index(local)


def test_the_month_count_runs_to_this_month_or_last_month_and_a_gap_ends_it():
    m = month_index(date(2026, 6, 1))
    assert streak_months(set(), m) == 0
    assert streak_months({m}, m) == 1
    assert streak_months({m - 2, m - 1}, m) == 2          # alive: this month has no order yet
    assert streak_months({m - 2, m - 1, m}, m) == 3
    assert streak_months({m - 3, m - 1, m}, m) == 2       # a month without one started it again
    assert streak_months({m - 3, m - 2}, m) == 0          # last month had none: it ended


def test_the_migration_stores_the_example_and_the_example_is_in_force_while_none_is_stored(session):
    import importlib.util

    from portal import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("loyalty_migration",
                                                  PROJECT_ROOT / "migrations/versions/0014_loyalty.py")
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert parse_program(migration.EXAMPLE) == EXAMPLE_PROGRAM
    session.execute(LoyaltyProgram.__table__.delete())  # the tests' wipe may have taken it already
    assert current_program(session) == EXAMPLE_PROGRAM


def test_a_new_program_is_in_force_from_when_it_is_stored(session):
    store_program(session, {**EXAMPLE, "minimum_pv": "100"})
    assert current_program(session).minimum_pv == 100


@pytest.mark.parametrize("document, reason", [
    ({**EXAMPLE, "ladder": []}, "ladder must be a list of 1 to 50 steps"),
    ({**EXAMPLE, "ladder": [{"from_month": 2, "rate": "10"}]}, "the ladder's first step must start at month 1"),
    ({**EXAMPLE, "ladder": [{"from_month": 1, "rate": "10"}, {"from_month": 1, "rate": "15"}]},
     "ladder months must rise: month 1 follows month 1"),
    ({**EXAMPLE, "ladder": [{"from_month": 1, "rate": "20"}, {"from_month": 4, "rate": "15"}]},
     "rates never fall with more months: 15% at month 4 after 20%"),
    ({**EXAMPLE, "ladder": [{"from_month": 1, "rate": "0"}]}, "ladder step 1's rate must be above 0 and at most 100"),
    ({**EXAMPLE, "ladder": [{"from_month": 1, "rate": "10.001"}]}, "ladder step 1's rate has more than two decimal places"),
    ({**EXAMPLE, "ladder": [{"from_month": 1, "rate": 10.5}]}, "ladder step 1's rate must be a number written as text, like \"10\" or \"0.01\""),
    ({**EXAMPLE, "ladder": [{"from_month": "1", "rate": "10"}]}, "ladder step 1's from_month must be a whole number from 1 to 600"),
    ({**EXAMPLE, "minimum_pv": "-5"}, "minimum_pv must be at least 0 and at most 100000"),
    ({**EXAMPLE, "minimum_pv": "NaN"}, "minimum_pv has more than two decimal places"),
    ({**EXAMPLE, "expiry_months": 0}, "expiry_months must be a whole number from 1 to 120"),
    ({**EXAMPLE, "point_value": "0"}, "point_value must be at least 0.01 and at most 100"),
    ({**EXAMPLE, "bonus": 1}, "unknown field 'bonus'"),
    ({k: v for k, v in EXAMPLE.items() if k != "expiry_months"}, "expiry_months is missing"),
    ("[1, 2", "not JSON: Expecting ',' delimiter: line 1 column 6 (char 5)"),
])
def test_a_bad_program_is_refused_with_its_reason_and_nothing_is_stored(session, document, reason):
    before = session.scalars(select(LoyaltyProgram.document)).all()
    with pytest.raises(InvalidProgram) as refused:
        store_program(session, document)
    assert reason in refused.value.reasons
    assert session.scalars(select(LoyaltyProgram.document)).all() == before
    assert current_program(session) == EXAMPLE_PROGRAM


def test_every_reason_is_given_at_once():
    with pytest.raises(InvalidProgram) as refused:
        parse_program({"ladder": "10%", "minimum_pv": "x", "point_value": "0.001"})
    assert len(refused.value.reasons) == 4
