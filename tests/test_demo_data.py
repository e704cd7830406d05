"""The demo data shows the product on first login: Alice's team with standing orders in every
state, totals and an attention list; for the admin, runs, a shipment plan with complete and
partial shipments, and a failed payment. Seeding again is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.autoship.models import AutoshipRun
from portal.clock import company_today
from portal.downline.attention import ATTENTION_REASONS, attention_page
from portal.downline.listing import TeamFilters, team_page
from portal.downline.totals import team_totals
from portal.fulfilment.models import Shipment
from portal.oneclick.models import OneClickSetting
from portal.orders.models import Order
from portal.seed.demo import DEMO_LOGINS, DEMO_PASSWORD
from tests.conftest import log_in, page_text


@pytest.fixture
def seeded(app, session, redis):
    result = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    return result


def person(session, first_name: str) -> User:
    return session.scalar(select(User).where(User.email == f"{first_name}@standing-order.example"))


def test_alice_sees_a_team_in_every_state_and_the_admin_runs_plans_and_payments(session, seeded):
    alice = person(session, "alice")
    rows = team_page(session, alice, TeamFilters(), size=200).rows
    assert 30 <= len(rows) <= 60
    assert {row.level for row in rows} == {1, 2, 3, 4}
    statuses = {row.status for row in rows}
    assert {"active", "paused", "payment_failed", "cancelled"} <= statuses
    assert sum(row.status == "active" for row in rows) > len(rows) / 2
    bobs = team_page(session, person(session, "bob"), TeamFilters(), size=200).rows
    assert any(row.status == "active" for row in bobs)

    totals = team_totals(session, alice, company_today())
    assert totals.active_profiles > 20
    assert all(month.pv > 0 for month in totals.months)

    reasons = {reason for row in attention_page(session, alice, today=company_today(),
                                                min_pv=Decimal("0"), size=200).rows
               for reason in row.reasons}
    assert {ATTENTION_REASONS[r] for r in ("payment", "card", "stock", "paused", "cancelled")} <= reasons
    assert session.scalar(select(func.count()).select_from(AutoshipRun)) > 20
    planned = dict(session.execute(select(Shipment.kind, func.count()).where(
        Shipment.status == "planned").group_by(Shipment.kind)).all())
    assert planned.get("complete", 0) > 0 and planned.get("partial", 0) > 0
    assert session.scalar(select(func.count()).select_from(Shipment).where(
        Shipment.status == "shipped")) > 0
    assert session.scalar(select(func.count()).select_from(Order).where(
        Order.status == "cancelled", Order.autoship_profile_id.is_not(None))) > 0
    dave = person(session, "dave")
    assert session.scalar(select(OneClickSetting.user_id).where(
        OneClickSetting.user_id == dave.id, OneClickSetting.disabled_at.is_(None))) == dave.id


def test_the_first_logins_see_it_and_seeding_again_is_refused(app, client, session, seeded):
    assert "Demo data created in" in seeded.output
    for _, email in DEMO_LOGINS:
        assert email in seeded.output

    log_in(client, person(session, "alice"), DEMO_PASSWORD)
    team = page_text(client.get("/team/autoships").get_data(as_text=True))
    for label in ("Active", "Paused", "Payment failed", "Cancelled"):
        assert label in team
    attention = page_text(client.get("/team/attention").get_data(as_text=True))
    assert ATTENTION_REASONS["payment"] in attention and ATTENTION_REASONS["stock"] in attention
    client.post("/logout", data={})

    admin = session.scalar(select(User).where(User.email == "admin@standing-order.example"))
    client = client.application.test_client()
    log_in(client, admin, DEMO_PASSWORD)
    plan = page_text(client.get("/admin/fulfilment/").get_data(as_text=True))
    assert "Complete" in plan and "Partial" in plan
    runs = page_text(client.get("/admin/autoship/").get_data(as_text=True))
    assert "demo" in runs
    payments = client.get("/admin/autoship/payments").get_data(as_text=True)
    failed = session.scalar(select(Order).where(Order.status == "cancelled",
                                                Order.autoship_profile_id.is_not(None)))
    assert failed.number in payments

    people = session.scalar(select(func.count()).select_from(User))
    again = app.test_cli_runner().invoke(args=["seed", "demo"])
    assert again.exit_code != 0 and "not empty" in again.output
    skipped = app.test_cli_runner().invoke(args=["seed", "demo", "--if-empty"])
    assert skipped.exit_code == 0 and "skipped" in skipped.output
    assert session.scalar(select(func.count()).select_from(User)) == people


def test_the_demo_periods_are_computed_with_the_example_plan(session, seeded):
    from portal.volume.models import PersonVolume, RankPlanVersion, VolumePeriod
    from portal.volume.periods import add_months, current_period
    from portal.volume.standing import standing_of

    alice = person(session, "alice")
    this_month = current_period()
    assert session.scalar(select(func.count()).select_from(RankPlanVersion)) == 1
    statuses = dict(session.execute(select(VolumePeriod.period, VolumePeriod.status)).all())
    assert statuses[add_months(this_month, -2)] == "closed"
    assert statuses[add_months(this_month, -1)] == statuses[this_month] == "open"
    last_month = standing_of(session, alice, add_months(this_month, -1))
    assert last_month.gv > last_month.pv > 0 and last_month.legs
    ranked = session.scalar(select(func.count()).select_from(PersonVolume)
                            .where(PersonVolume.rank.is_not(None)))
    assert ranked > 0
