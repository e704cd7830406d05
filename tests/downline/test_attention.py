"""The attention list: which standing orders need a word from their upline, and why."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from portal.clock import company_today
from portal.downline.attention import attention_page
from tests.downline.conftest import give_autoship
from tests.factories import make_product


def reasons(session, ancestor, min_pv=Decimal("0")):
    page = attention_page(session, ancestor, today=company_today(), min_pv=min_pv)
    return {row.member_number: row.reasons for row in page.rows}


def test_attention_lists_failed_payments_and_recent_pauses(session, team):
    found = reasons(session, team.people[1])
    assert found["M111"] == ["Last payment failed"]
    assert found["M100"] == ["Paused in the last 30 days"]
    assert "M11" not in found and "M121" not in found


def test_attention_below_minimum_pv_out_of_stock_inactive_and_cancelled(session, team, redis):
    low = make_product(session, each_pv=Decimal("1.00"))
    scarce = make_product(session, on_hand=1)
    gone = make_product(session)
    give_autoship(session, redis, team.people[11], low, quantity=1)
    give_autoship(session, redis, team.people[1111], scarce, quantity=5)
    give_autoship(session, redis, team.people[100], gone, quantity=1, status="cancelled")
    gone.active = False
    session.commit()
    found = reasons(session, team.people[1], min_pv=Decimal("10"))
    assert "Below the minimum PV" in found["M11"]
    assert "An item is out of stock" in found["M1111"]
    assert "Cancelled in the last 30 days" in found["M100"]
    assert "Below the minimum PV" not in found.get("M111", [])  # not active: no run to fall short


def test_attention_card_expiring_before_the_next_run(session, team, redis):
    today = company_today()
    next_month = (today.replace(day=1) + timedelta(days=40)).replace(day=15)
    give_autoship(session, redis, team.people[12], team.product, first=next_month,
                  card={"exp_month": today.month, "exp_year": today.year})
    session.commit()
    assert reasons(session, team.people[9])["M12"] == ["Card expires before the next run"]


def test_attention_pages(session, team):
    ancestor = team.people[9]
    page = attention_page(session, ancestor, today=company_today(), min_pv=Decimal(0), size=1)
    assert len(page.rows) == 1 and page.next_cursor
    second = attention_page(session, ancestor, today=company_today(), min_pv=Decimal(0),
                            size=1, cursor=page.next_cursor)
    assert second.rows[0].profile_id != page.rows[0].profile_id
