"""Computing a period: PV credited to the right IBO, GV and legs, ranks bottom-up, refreshes
after payments, cancellations and refunds, and closed periods that never change."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from portal.volume.computation import (PeriodClosed, PeriodNotOver, close_period, recompute_period,
                                       refresh_people)
from portal.volume.models import HighestRank, VolumeAdjustment
from portal.volume.periods import BadPeriod
from portal.volume.standing import standing_of
from tests.factories import make_admin, make_ibo, make_user
from tests.volume.builders import cancel, paid_order, refund

DEC = date(2026, 12, 1)
NOV = date(2026, 11, 1)
NOW = datetime(2026, 12, 20, 12, tzinfo=timezone.utc)


def at(day, hour=12, month=12):
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


@pytest.fixture
def tree(session, clock):
    """top <- mid <- low (IBOs); a member under mid; another IBO beside mid."""
    clock(NOW)
    top = make_ibo(session, root=True)
    mid = make_ibo(session, sponsor=top)
    low = make_ibo(session, sponsor=mid)
    side = make_ibo(session, sponsor=top)
    customer = make_user(session, sponsor=mid)
    return top, mid, low, side, customer


def figures(session, user, period=DEC):
    s = standing_of(session, user, period)
    return s.pv, s.gv, s.rank.code if s.rank else None


def test_pv_is_credited_to_the_ibo_and_gv_adds_the_downline(session, tree):
    top, mid, low, side, customer = tree
    paid_order(session, low, "60", at(3))
    paid_order(session, customer, "70", at(4))
    paid_order(session, mid, "40", at(5))
    paid_order(session, side, "10", at(6))
    recompute_period(session, DEC)
    assert figures(session, low) == (D("60"), D("60"), "associate")
    assert figures(session, mid) == (D("110"), D("170"), "associate")   # own 40 + member's 70
    assert figures(session, customer) == (D("70"), D("70"), None)        # a member's own PV
    assert figures(session, top) == (D("0"), D("180"), None)
    legs = standing_of(session, top, DEC).legs
    assert [(leg.member, leg.gv, leg.rank) for leg in legs] == [
        (mid.member_number, D("170"), "associate"), (side.member_number, D("10"), None)]


def test_an_order_counts_in_the_month_it_was_paid_in_company_time(session, tree):
    top, mid, low, side, customer = tree
    # 1 December 03:00 UTC is still 30 November in Chicago.
    paid_order(session, low, "60", datetime(2026, 12, 1, 3, tzinfo=timezone.utc))
    paid_order(session, low, "5", datetime(2026, 12, 1, 7, tzinfo=timezone.utc))
    recompute_period(session, NOV)
    recompute_period(session, DEC)
    assert figures(session, low, NOV)[0] == D("60")
    assert figures(session, low, DEC)[0] == D("5")


def test_cancelled_and_refunded_volume_leaves_its_period(session, tree):
    top, mid, low, side, customer = tree
    kept = paid_order(session, low, "100", at(3))
    gone = paid_order(session, low, "50", at(4))
    cancel(session, gone, at(5))
    refund(session, kept, "30", at(6))
    recompute_period(session, DEC)
    assert figures(session, low)[0] == D("70")


def test_a_refresh_follows_one_more_paid_order_up_the_path(session, tree):
    top, mid, low, side, customer = tree
    paid_order(session, low, "60", at(3))
    paid_order(session, side, "500", at(3))
    recompute_period(session, DEC)
    paid_order(session, customer, "450", at(7))
    refresh_people(session, DEC, [customer.id])
    assert figures(session, mid) == (D("450"), D("510"), "bronze")
    assert figures(session, top) == (D("0"), D("1010"), None)
    paid_order(session, mid, "100", at(8))
    refresh_people(session, DEC, [mid.id])
    assert figures(session, mid) == (D("550"), D("610"), "bronze")


def test_a_period_not_yet_computed_is_computed_in_full_by_its_first_refresh(session, tree):
    top, mid, low, side, customer = tree
    paid_order(session, side, "80", at(3))
    paid_order(session, low, "60", at(3))
    refresh_people(session, DEC, [low.id])
    assert figures(session, top) == (D("0"), D("140"), None)


def test_a_closed_period_never_changes_and_later_refunds_land_in_the_open_one(session, tree, clock):
    top, mid, low, side, customer = tree
    november = paid_order(session, customer, "90", at(10, month=11))
    other = paid_order(session, low, "80", at(11, month=11))
    admin = make_admin(session)
    close_period(session, NOV, actor=admin)
    refund(session, november, "40", at(2))
    cancel(session, other, at(3))
    with pytest.raises(PeriodClosed, match="November 2026 is closed"):
        recompute_period(session, NOV)
    recompute_period(session, DEC)
    assert figures(session, customer, NOV) == (D("90"), D("90"), None)
    assert figures(session, mid, NOV) == (D("90"), D("170"), "associate")
    assert figures(session, customer, DEC) == (D("-40"), D("-40"), None)
    assert figures(session, mid, DEC) == (D("-40"), D("-120"), None)
    assert sorted(a.pv for a in session.query(VolumeAdjustment)) == [D("-80"), D("-40")]
    # the same refund told twice is recorded once
    refund(session, november, "40", at(4), refund_id=9001)
    refund(session, november, "40", at(4), refund_id=9001)
    assert session.query(VolumeAdjustment).count() == 3


def test_periods_are_closed_only_after_they_end_and_only_started_ones_computed(session, tree):
    with pytest.raises(PeriodNotOver):
        close_period(session, DEC, actor=None)
    with pytest.raises(BadPeriod, match="January 2027 has not started yet"):
        recompute_period(session, date(2027, 1, 1))


def test_the_highest_rank_is_kept_from_every_period(session, tree):
    top, mid, low, side, customer = tree
    paid_order(session, low, "600", at(10, month=11))
    paid_order(session, low, "60", at(10))
    recompute_period(session, NOV)
    recompute_period(session, DEC)
    best = session.get(HighestRank, low.id)
    assert (best.rank, best.period) == ("bronze", NOV)
    assert standing_of(session, low, DEC).highest_rank.code == "bronze"
    assert standing_of(session, low, DEC).rank.code == "associate"


def test_a_member_sees_their_own_pv_only(session, tree):
    top, mid, low, side, customer = tree
    paid_order(session, customer, "70", at(4))
    recompute_period(session, DEC)
    standing = standing_of(session, customer, DEC)
    assert (standing.role, standing.pv, standing.gv, standing.legs) == ("member", D("70"), D("70"), [])
    assert (standing.rank, standing.next_rank, standing.missing) == (None, None, ())


def test_history_gives_each_period_asked_for_with_zeros_where_nothing_counted(session, tree):
    from portal.volume.standing import history_of

    top, mid, low, side, customer = tree
    paid_order(session, low, "600", at(10, month=11))
    recompute_period(session, NOV)
    recompute_period(session, DEC)
    assert history_of(session, mid, [NOV, DEC]) == [(NOV, D("0"), D("600"), None),
                                                     (DEC, D("0"), D("0"), None)]
    assert history_of(session, low, [NOV])[0][3] == "bronze"
