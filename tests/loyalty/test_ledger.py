"""The ledger's writes: awards once per paid standing-order order, reversals, expiry, spending
once under concurrency, and a balance the database keeps from going negative."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from portal.autoship.models import ProfileStatus
from portal.clock import frozen_at
from portal.loyalty.ledger import NotEnoughPoints, award_points, expire_points, redeem_points
from portal.loyalty.models import PointsAccount, PointsEntry
from portal.loyalty.rules import EXAMPLE_PROGRAM
from portal.orders import charging
from tests.factories import make_paid_order
from tests.loyalty.conftest import cancel, paid_standing_order, refund, standing_order
from tests.races import run_behind

UTC = timezone.utc
MARCH = datetime(2026, 3, 5, 15, tzinfo=UTC)


def ledger(session, person):
    return [tuple(row) for row in session.execute(
        select(PointsEntry.kind, PointsEntry.points).where(PointsEntry.user_id == person.id)
        .order_by(PointsEntry.id))]


def balance(session, person):
    return session.scalar(select(PointsAccount.balance).where(PointsAccount.user_id == person.id))


def test_a_paid_standing_order_earns_its_rate_once_and_expires_twelve_months_later(app, session, holder):
    order = paid_standing_order(session, holder, MARCH, price="87.55")
    entry = session.scalars(select(PointsEntry)).one()
    assert (entry.kind, entry.points, entry.order_id, entry.rate, entry.streak_months) == \
        ("earned", 875, order.id, 10, 1)
    assert entry.expires_on == date(2027, 3, 5) and entry.at == order.paid_at
    assert award_points(session, [order.id], program=EXAMPLE_PROGRAM, timezone="America/Chicago") == 0
    assert balance(session, holder) == 875


def test_the_rate_rises_with_consecutive_months_and_a_month_without_starts_it_again(session, holder):
    months = [datetime(2026, m, 10, 15, tzinfo=UTC) for m in range(1, 8)]
    for moment in months[:5]:           # January to May: months 1-5
        paid_standing_order(session, holder, moment)
    paid_standing_order(session, holder, months[6])   # June without one: July is month 1 again
    assert [e.rate for e in session.scalars(select(PointsEntry).order_by(PointsEntry.id))] == \
        [10, 10, 10, 15, 15, 10]


def test_an_order_below_the_minimum_pv_earns_but_does_not_make_its_month_count(session, holder):
    paid_standing_order(session, holder, datetime(2026, 1, 10, 15, tzinfo=UTC))
    paid_standing_order(session, holder, datetime(2026, 2, 10, 15, tzinfo=UTC), pv="49.99")
    paid_standing_order(session, holder, datetime(2026, 3, 10, 15, tzinfo=UTC))
    paid_standing_order(session, holder, datetime(2026, 4, 10, 15, tzinfo=UTC))
    streaks = [e.streak_months for e in session.scalars(select(PointsEntry).order_by(PointsEntry.id))]
    # February's order earns at January's count; February did not count, so March is month 1 again.
    assert streaks == [1, 1, 1, 2]


def test_a_payment_after_midnight_utc_on_the_first_counts_in_the_company_month_before(session, holder):
    paid_standing_order(session, holder, datetime(2026, 2, 10, 15, tzinfo=UTC))
    paid_standing_order(session, holder, datetime(2026, 3, 1, 3, tzinfo=UTC))  # Feb 28, 9 PM in Chicago
    paid_standing_order(session, holder, datetime(2026, 3, 20, 15, tzinfo=UTC))
    assert [e.streak_months for e in session.scalars(select(PointsEntry).order_by(PointsEntry.id))] == [1, 1, 2]


def test_orders_of_a_person_without_a_live_standing_order_and_checkout_orders_earn_nothing(
        app, session, redis, holder):
    holder.profile.status = ProfileStatus.CANCELLED
    session.commit()
    paid_standing_order(session, holder, MARCH)
    holder.profile.status = ProfileStatus.ACTIVE
    session.commit()
    with frozen_at(MARCH):
        make_paid_order(session, holder, redis)
        session.commit()
    assert ledger(session, holder) == []


def test_one_charge_of_many_orders_awards_them_all_in_one_statement(app, session, holder):
    orders = [standing_order(session, holder) for _ in range(3)]
    statements = []
    from sqlalchemy import event

    def count(conn, cursor, statement, *args):
        if "points_ledger" in statement and statement.lstrip().upper().startswith("WITH"):
            statements.append(statement)
    event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        with frozen_at(MARCH):
            charging.charge(app, session, [o.id for o in orders], MARCH.date())
            session.commit()
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count)
    assert len(statements) == 1
    assert ledger(session, holder) == [("earned", 1000)] * 3


def test_a_cancelled_order_gives_back_what_was_spent_on_it_and_takes_back_what_it_earned(session, holder):
    first = paid_standing_order(session, holder, MARCH)                 # +1000
    second = paid_standing_order(session, holder, MARCH, price="50.00")  # +500
    with frozen_at(MARCH):
        redeem_points(session, user_id=holder.id, points=300, order_id=second.id, note="test")
        session.commit()
    cancel(session, second, MARCH)
    assert ledger(session, holder)[-2:] == [("reversed", 300), ("reversed", -500)]
    assert balance(session, holder) == 1000
    cancel(session, first, MARCH)
    assert balance(session, holder) == 0


def test_taking_back_never_makes_a_debt_of_points_already_spent(session, holder):
    order = paid_standing_order(session, holder, MARCH)                 # +1000
    other = paid_standing_order(session, holder, MARCH, price="10.00")  # +100
    with frozen_at(MARCH):
        redeem_points(session, user_id=holder.id, points=900, order_id=other.id, note="test")
        session.commit()
    cancel(session, order, MARCH)
    assert ledger(session, holder)[-1] == ("reversed", -200)   # the balance, not the 1000 earned
    assert balance(session, holder) == 0


def test_a_partial_refund_takes_back_its_share_rounded_up_and_never_more_than_earned(session, holder):
    order = paid_standing_order(session, holder, MARCH, price="200.00")  # total 200.00 (free shipping): +2000
    refund(session, order, "50.01", MARCH)
    assert ledger(session, holder)[-1] == ("reversed", -501)
    refund(session, order, "200.00", MARCH)
    assert ledger(session, holder)[-1] == ("reversed", -1499)
    refund(session, order, "10.00", MARCH)
    assert balance(session, holder) == 0 and len(ledger(session, holder)) == 3


def test_expiry_takes_what_is_left_of_due_points_oldest_first_and_is_idempotent(session, holder):
    paid_standing_order(session, holder, datetime(2026, 1, 10, 15, tzinfo=UTC))          # 1000, due 2027-01-10
    later = paid_standing_order(session, holder, datetime(2026, 2, 10, 15, tzinfo=UTC))  # 1000, due 2027-02-10
    with frozen_at(MARCH):
        redeem_points(session, user_id=holder.id, points=700, order_id=later.id, note="test")
        session.commit()
    for _ in range(2):   # twice on the same day: cron may fire twice
        expire_points(session, today=date(2027, 1, 10))
        session.commit()
    assert ledger(session, holder)[-1] == ("expired", -300)
    assert expire_points(session, today=date(2027, 1, 9)) == 0
    expire_points(session, today=date(2027, 2, 10))
    session.commit()
    assert ledger(session, holder)[-1] == ("expired", -1000) and balance(session, holder) == 0


def test_the_database_refuses_a_negative_balance_whatever_the_code_does(session, holder):
    paid_standing_order(session, holder, MARCH)
    with pytest.raises(IntegrityError):
        session.execute(update(PointsAccount).values(balance=-1))
    session.rollback()


def test_spending_more_than_the_balance_is_refused_and_changes_nothing(session, holder):
    order = paid_standing_order(session, holder, MARCH)
    with pytest.raises(NotEnoughPoints, match="your balance is 1,000 points"):
        redeem_points(session, user_id=holder.id, points=1001, order_id=order.id, note="test")
    session.rollback()
    assert ledger(session, holder) == [("earned", 1000)]


@pytest.mark.server
def test_two_tabs_spending_the_same_points_spend_them_once(app, session, holder):
    first = paid_standing_order(session, holder, MARCH)
    second = paid_standing_order(session, holder, MARCH, price="10.00")   # balance 1100
    redeem_points(session, user_id=holder.id, points=800, order_id=first.id, note="tab 1")  # uncommitted

    def other_tab(other):
        return redeem_points(other, user_id=holder.id, points=800, order_id=second.id, note="tab 2")

    outcome = run_behind(app, session, other_tab)
    assert isinstance(outcome, NotEnoughPoints)
    assert "your balance is 300 points" in outcome.message
    session.expire_all()
    assert ledger(session, holder) == [("earned", 1000), ("earned", 100), ("redeemed", -800)]
    assert balance(session, holder) == 300
    assert session.scalar(select(func.sum(PointsEntry.points))) == 300


def test_awarding_again_and_again_on_one_connection_keeps_finding_the_once_per_order_index(session, holder):
    # The driver prepares a statement run often on one connection; the conflict target must
    # still match the partial unique index then.
    order = paid_standing_order(session, holder, MARCH)
    for _ in range(8):
        assert award_points(session, [order.id], program=EXAMPLE_PROGRAM, timezone="America/Chicago") == 0
    assert ledger(session, holder) == [("earned", 1000)]
