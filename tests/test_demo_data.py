"""The demo data shows the product on first login: Alice's team with standing orders in every
state, totals and an attention list; for the admin, runs, a shipment plan with complete and
partial shipments, and a failed payment. Seeding again is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.autoship.models import AutoshipOneTimeLine, AutoshipRun
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
    # Some standing orders carry something for their next shipment only.
    waiting = session.scalars(select(AutoshipOneTimeLine).where(AutoshipOneTimeLine.status == "pending")).all()
    assert len({line.profile_id for line in waiting}) >= 2 and len(waiting) >= 3


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


def test_the_admins_cancellation_report_shows_reasons_and_saves(app, session, seeded):
    from portal.retention.report import monthly_answers

    rows = monthly_answers(session, today=company_today(), months=12,
                           timezone=app.config["COMPANY_TIMEZONE"])
    assert sum(row.total_saved for row in rows) >= 2 and sum(row.cancelled for row in rows) >= 2
    assert len({reason for row in rows for reason in row.asked}) >= 3


def test_demo_members_have_points_a_streak_and_a_ledger(app, client, session, seeded):
    from portal.loyalty.models import PointsEntry
    from portal.loyalty.queries import points_statement

    dave = person(session, "dave")
    statement = points_statement(session, dave.id, timezone=app.config["COMPANY_TIMEZONE"])
    assert statement.balance > 0 and statement.streak.months >= 2
    kinds = set(session.scalars(select(PointsEntry.kind).where(PointsEntry.user_id == dave.id)))
    assert {"earned", "redeemed"} <= kinds
    assert session.scalar(select(func.count(func.distinct(PointsEntry.user_id)))) > 10
    log_in(client, dave, DEMO_PASSWORD)
    assert f"{statement.balance:,} points" in page_text(client.get("/points/").get_data(as_text=True))


def test_the_support_login_finds_notes_and_changes_made_for_dave(client, session, seeded):
    from portal.accounts.models import AuditEntry

    sam, dave = person(session, "sam"), person(session, "dave")
    assert sam.role == "support" and "sam@standing-order.example" in seeded.output
    actions = set(session.scalars(select(AuditEntry.action).where(AuditEntry.member_id == dave.id,
                                                                 AuditEntry.actor_id == sam.id)))
    assert {"note added", "renamed", "address changed"} <= actions
    log_in(client, sam, DEMO_PASSWORD)
    page = page_text(client.get(f"/admin/members/{dave.member_number}").get_data(as_text=True))
    assert "prefers calls after 5 pm" in page and "by Sam Support: renamed" in page


def test_the_demo_has_a_refunded_and_a_partly_refunded_order(client, session, seeded):
    from portal.orders.models import Refund

    refunded = {refund.order.refund_label: refund for refund in session.scalars(select(Refund))}
    assert set(refunded) == {"Refunded", "Partly refunded"}
    assert all(refund.status == "succeeded" for refund in refunded.values())
    assert refunded["Refunded"].order.user_id == person(session, "dave").id
    assert refunded["Partly refunded"].restock and refunded["Partly refunded"].lines[0].restocked_eaches > 0
    log_in(client, person(session, "admin"), DEMO_PASSWORD)
    page = page_text(client.get(f"/admin/orders/{refunded['Refunded'].order_id}").get_data(as_text=True))
    assert "The case arrived crushed" in page and "Everything charged on this order has been refunded" in page


def test_dave_sees_tracking_and_a_notice_about_a_card_that_expires_before_his_next_run(
        app, client, session, seeded):
    from portal.autoship.models import AutoshipProfile, CardExpiryNotice
    from portal.fulfilment.models import ShipmentPick, TrackingNumber
    from portal.payments.models import PaymentMethod

    dave = person(session, "dave")
    shipped = session.scalar(select(Order).where(
        Order.user_id == dave.id, Order.status == "shipped",
        Order.id.in_(select(ShipmentPick.order_id).join(
            TrackingNumber, TrackingNumber.shipment_id == ShipmentPick.shipment_id)))
        .order_by(Order.id.desc()).limit(1))
    assert shipped is not None
    coffee = session.scalar(select(AutoshipProfile).where(AutoshipProfile.user_id == dave.id,
                                                          AutoshipProfile.name == "Morning coffee"))
    card = session.get(PaymentMethod, coffee.payment_method_id)
    assert card.expired_on(coffee.next_run_date) and not card.expired_on(company_today())
    today = company_today()
    if (coffee.next_run_date - today).days <= 30:  # not on the 1st of a 31-day month
        assert session.scalar(select(CardExpiryNotice.days_ahead).where(
            CardExpiryNotice.profile_id == coffee.id)) == 30

    log_in(client, dave, DEMO_PASSWORD)
    order_page = client.get(f"/orders/{shipped.id}").get_data(as_text=True)
    assert "Tracking number" in order_page and 'rel="noopener noreferrer"' in order_page
    notices = page_text(client.get("/notifications/").get_data(as_text=True))
    assert "has shipped" in notices
    if (coffee.next_run_date - today).days <= 30:
        assert "Your card expires before your autoship" in notices
    assert "before the next shipment" in client.get(f"/autoship/{coffee.id}").get_data(as_text=True)
