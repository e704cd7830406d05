"""The engine: every due profile becomes exactly one order, whatever happens around it."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship import engine, lifecycle, profiles, runs, schedule_changes, shipping_now
from portal.autoship.engine import EngineRules, plan_due
from portal.autoship.models import AutoshipEvent, AutoshipOccurrence, AutoshipProfile, AutoshipRun
from portal.autoship.recurrence import Recurrence
from portal.orders.models import Order, OrderLine, OrderStatusChange
from portal.orders.pricing import ShippingRule
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_product

ENGINE = EngineRules(shipping=ShippingRule(Decimal("5.95"), Decimal("100.00")), chunk_size=2)
D = date


def run(session, as_of, rules=ENGINE):
    result = engine.run_in_process(session, as_of=as_of, trigger="test", rules=rules)
    session.expire_all()
    return result


def orders(session):
    return session.scalars(select(Order).order_by(Order.autoship_profile_id, Order.autoship_due_date)).all()


@pytest.mark.parametrize("rrule, regularity, next_run, as_of, expected", [
    ("FREQ=MONTHLY;INTERVAL=1", "calendar", D(2026, 12, 15), D(2026, 12, 15), (D(2026, 12, 15), D(2027, 1, 15), ())),
    ("FREQ=MONTHLY;INTERVAL=1", "calendar", D(2026, 10, 15), D(2026, 12, 20),
     (D(2026, 12, 15), D(2027, 1, 15), (D(2026, 10, 15), D(2026, 11, 15)))),
    ("FREQ=WEEKLY;INTERVAL=2", "rolling", D(2026, 12, 1), D(2026, 12, 10), (D(2026, 12, 1), D(2026, 12, 24), ())),
    ("FREQ=DAILY;INTERVAL=10", "rolling", D(2026, 11, 1), D(2026, 11, 25),
     (D(2026, 11, 21), D(2026, 12, 5), (D(2026, 11, 1), D(2026, 11, 11)))),
    ("FREQ=MONTHLY;INTERVAL=1;COUNT=2", "calendar", D(2027, 1, 31), D(2027, 2, 28), (D(2027, 2, 28), None, (D(2027, 1, 31),))),
])
def test_plan_due_orders_once_for_the_latest_date_and_moves_past_as_of(rrule, regularity, next_run, as_of, expected):
    plan = plan_due(1, rrule, D(2026, 10, 15) if "MONTHLY" in rrule and "COUNT" not in rrule else next_run,
                    regularity, next_run, as_of, frozenset())
    assert (plan.due_date, plan.next_date, plan.missed) == expected


def test_a_run_creates_one_priced_order_per_due_profile_and_advances_them(session, member, product):
    due = [new_profile(session, member, product, first=D(2026, 12, 1), items=[(product.id, "case", 1)])
           for _ in range(3)]
    later = new_profile(session, member, product, first=D(2026, 12, 20))
    session.commit()
    result = run(session, D(2026, 12, 1))
    assert (result.due, result.created, result.chunks_total, result.status) == (3, 3, 2, "done")
    made = orders(session)
    assert [o.autoship_profile_id for o in made] == [p.id for p in due]
    order = made[0]
    assert (order.status, order.source, order.subtotal, order.total, order.pv_total) == (
        "pending_payment", "autoship", Decimal("110.00"), Decimal("110.00"), Decimal("96.00"))
    assert [(l.unit_code, l.quantity, l.eaches, l.line_total) for l in order.lines] == [("case", 1, 12, Decimal("110.00"))]
    assert order.history[0].note == "placed by autoship"
    assert order.ship_moniker == "Home" and order.payment_label == "Visa ending 4242"
    assert all(session.get(AutoshipProfile, p.id).next_run_date == D(2027, 1, 1) for p in due)
    assert session.get(AutoshipProfile, later.id).next_run_date == D(2026, 12, 20)


def test_running_the_same_date_again_creates_nothing_and_keeps_what_the_first_attempt_did(
        session, member, product):
    for _ in range(3):
        new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    first = run(session, D(2026, 12, 1))
    snapshot = [(o.id, o.autoship_profile_id, o.total) for o in orders(session)]
    for _ in range(2):
        again = run(session, D(2026, 12, 1))
    assert [(o.id, o.autoship_profile_id, o.total) for o in orders(session)] == snapshot
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 3
    # The record is history: the totals never go down, each attempt keeps its own counts and
    # the first attempt's chunks are still there.
    assert first.id == again.id and again.attempts == 3 and again.status == "done"
    assert (again.due, again.created, again.chunks_done, again.chunks_total) == (3, 3, 2, 2)
    assert [(a.number, a.trigger, a.due, a.created, a.chunks_done, a.chunks_total)
            for a in runs.attempt_summaries(again)] == [
        (1, "test", 3, 3, 2, 2), (2, "test", 0, 0, 0, 0), (3, "test", 0, 0, 0, 0)]
    assert [(c.number, c.attempt, c.status, c.due, c.created) for c in again.chunks] == [
        (0, 1, "done", 2, 2), (1, 1, "done", 1, 1)]


def test_a_re_run_that_finds_new_due_profiles_numbers_its_chunks_after_the_first(session, member, product):
    early = new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    run(session, D(2026, 12, 1))
    late = new_profile(session, member, product, first=D(2026, 12, 1))  # added after the run
    session.commit()
    again = run(session, D(2026, 12, 1))
    assert (again.due, again.created, again.status) == (2, 2, "done")
    assert [(a.number, a.due, a.created) for a in runs.attempt_summaries(again)] == [
        (1, 1, 1), (2, 1, 1)]
    assert [(c.number, c.attempt, c.low_id, c.created) for c in again.chunks] == [
        (0, 1, early.id, 1), (1, 2, late.id, 1)]


def test_a_chunk_processed_twice_does_nothing_the_second_time(session, member, product):
    new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    started = engine.start_run(session, as_of=D(2026, 12, 1), trigger="test", chunk_size=10)
    session.commit()
    first = engine.materialise_chunk(session, run_id=started.id, number=0, rules=ENGINE)
    session.commit()
    second = engine.materialise_chunk(session, run_id=started.id, number=0, rules=ENGINE)
    session.commit()
    assert (first.created, second.already_done) == (1, True)
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_an_order_made_by_ship_now_for_that_date_is_not_made_again(session, redis, member, product):
    from portal.payments.gateway import SandboxGateway
    profile = new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    due = profile.next_run_date
    profile.next_run_date = due  # a member ships now while the run is starting
    order = shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                                  shipping=ENGINE.shipping, today=TODAY, base_url="http://portal.test")
    profile.next_run_date = due  # ... and the run still sees the profile as due
    session.commit()
    result = run(session, due)
    assert (result.due, result.created) == (1, 0)
    assert session.scalar(select(func.count()).select_from(Order)) == 1 and order.autoship_due_date == due


def test_after_downtime_one_order_for_the_latest_date_and_the_rest_recorded_missed(session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.every(1, "weeks"), first=D(2026, 12, 1))
    session.commit()
    result = run(session, D(2026, 12, 25))
    assert (result.created, result.missed) == (1, 3)
    assert [o.autoship_due_date for o in orders(session)] == [D(2026, 12, 22)]
    missed = session.scalars(select(AutoshipOccurrence.due_date).where(
        AutoshipOccurrence.outcome == "missed").order_by(AutoshipOccurrence.due_date)).all()
    assert missed == [D(2026, 12, 1), D(2026, 12, 8), D(2026, 12, 15)]
    assert session.get(AutoshipProfile, profile.id).next_run_date == D(2026, 12, 29)


def test_skips_pauses_and_cancellations_are_honoured(session, member, product):
    skipped = new_profile(session, member, product, first=D(2026, 12, 1))
    schedule_changes.skip_date(session, user=member, profile=skipped, day=D(2026, 12, 1), today=TODAY, rules=RULES)
    paused = new_profile(session, member, product, first=D(2026, 12, 1))
    lifecycle.pause(session, user=member, profile=paused, resume_on=None, today=TODAY, rules=RULES)
    cancelled = new_profile(session, member, product, first=D(2026, 12, 1))
    lifecycle.cancel(session, user=member, profile=cancelled, today=TODAY, rules=RULES)
    resuming = new_profile(session, member, product, first=D(2026, 12, 1))
    lifecycle.pause(session, user=member, profile=resuming, resume_on=D(2026, 12, 10), today=TODAY, rules=RULES)
    session.commit()
    assert run(session, D(2026, 12, 5)).created == 0
    result = run(session, D(2026, 12, 15))  # the automatic resume date has passed
    assert (result.resumed, result.created) == (1, 0)
    resumed = session.get(AutoshipProfile, resuming.id)
    assert (resumed.status, resumed.next_run_date, resumed.paused_until) == ("active", D(2027, 1, 1), None)
    assert run(session, D(2027, 1, 1)).created == 2  # the resumed one and the skipper
    assert sorted(o.autoship_profile_id for o in orders(session)) == sorted([skipped.id, resuming.id])
    assert session.get(AutoshipProfile, paused.id).status == "paused"
    assert session.get(AutoshipProfile, cancelled.id).status == "cancelled"


def test_out_of_stock_items_follow_the_profile_policy(session, member, product):
    scarce = make_product(session, name="Scarce", on_hand=0)
    backorder = new_profile(session, member, product, first=D(2026, 12, 1),
                            items=[(product.id, "each", 1), (scarce.id, "each", 1)])
    leave_out = new_profile(session, member, product, first=D(2026, 12, 1),
                            items=[(product.id, "each", 1), (scarce.id, "each", 1)],
                            out_of_stock_policy="skip_item")
    only_scarce = new_profile(session, member, product, first=D(2026, 12, 1),
                              items=[(scarce.id, "each", 1)], out_of_stock_policy="skip_item")
    session.commit()
    result = run(session, D(2026, 12, 1))
    assert (result.created, result.skipped) == (2, 1)
    by_profile = {o.autoship_profile_id: [l.sku for l in o.lines] for o in orders(session)}
    assert by_profile == {backorder.id: [product.sku, scarce.sku], leave_out.id: [product.sku]}
    events = dict(session.execute(select(AutoshipEvent.profile_id, AutoshipEvent.action).where(
        AutoshipEvent.actor_id.is_(None))).all())
    assert events[backorder.id] == "item backordered"
    assert events[leave_out.id] == "item skipped: out of stock"
    assert session.scalar(select(AutoshipOccurrence.outcome).where(
        AutoshipOccurrence.profile_id == only_scarce.id)) == "skipped"
    assert session.get(AutoshipProfile, only_scarce.id).next_run_date == D(2027, 1, 1)


def test_withdrawn_products_are_left_out_and_locked_prices_are_used(session, member, product):
    gone = make_product(session, name="Gone")
    locked = new_profile(session, member, product, first=D(2026, 12, 1), price_policy="locked",
                         items=[(product.id, "each", 2), (gone.id, "each", 1)])
    gone.active = False
    product.unit("each").price = Decimal("99.00")
    session.commit()
    run(session, D(2026, 12, 1))
    [order] = orders(session)
    assert [l.sku for l in order.lines] == [product.sku]
    assert order.subtotal == Decimal("20.00") and order.shipping_fee == Decimal("5.95")
    assert locked.id == order.autoship_profile_id


def test_profiles_below_the_minimum_pv_are_skipped(session, member, product):
    new_profile(session, member, product, first=D(2026, 12, 1), items=[(product.id, "each", 1)])
    session.commit()
    strict = EngineRules(shipping=ENGINE.shipping, min_pv=Decimal("50"), chunk_size=10)
    result = run(session, D(2026, 12, 1), strict)
    assert (result.created, result.skipped) == (0, 1)


def test_a_rolling_profile_counts_from_the_run_date(session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.every(2, "weeks"),
                          regularity="rolling", first=D(2026, 12, 1))
    session.commit()
    run(session, D(2026, 12, 3))  # the engine was two days late
    assert session.get(AutoshipProfile, profile.id).next_run_date == D(2026, 12, 17)
    assert session.get(AutoshipProfile, profile.id).last_order_date == D(2026, 12, 3)


def test_the_run_records_its_numbers(session, member, product):
    for first in (D(2026, 12, 1), D(2026, 12, 1), D(2026, 12, 2)):
        new_profile(session, member, product, first=first)
    session.commit()
    result = run(session, D(2026, 12, 1))
    stored = session.scalar(select(AutoshipRun))
    assert (stored.due, stored.created, stored.chunks_total, stored.chunks_done, stored.status) == (2, 2, 1, 1, "done")
    assert stored.seconds is not None and result.finished_at is not None


def _outcome(session) -> dict:
    """Everything a chunk writes, keyed by profile and date, not by generated ids or clock."""
    by_order = {o.id: (o.autoship_profile_id, o.autoship_due_date) for o in session.scalars(select(Order))}
    return {
        "orders": sorted((o.autoship_profile_id, o.autoship_due_date, o.user_id, o.status, o.address_id,
                          o.ship_name, o.destination_key, o.payment_method_id, o.payment_label, o.subtotal,
                          o.shipping_fee, o.total, o.pv_total, o.bv_total) for o in session.scalars(select(Order))),
        "lines": [(by_order[l.order_id], l.product_id, l.sku, l.name, l.unit_code, l.eaches_per_unit,
                   l.quantity, l.eaches, l.unit_price, l.line_total, l.pv, l.bv)
                  for l in session.scalars(select(OrderLine).order_by(OrderLine.order_id, OrderLine.id))],
        "history": sorted((by_order[c.order_id], c.from_status or "", c.to_status, c.note)
                          for c in session.scalars(select(OrderStatusChange))),
        "events": sorted(session.execute(select(AutoshipEvent.profile_id, func.coalesce(AutoshipEvent.actor_id, 0),
                                                AutoshipEvent.action, AutoshipEvent.details)).all()),
        "occurrences": sorted(session.execute(select(
            AutoshipOccurrence.profile_id, AutoshipOccurrence.due_date, AutoshipOccurrence.outcome,
            AutoshipOccurrence.note)).all()),
        "profiles": session.execute(select(
            AutoshipProfile.id, AutoshipProfile.status, AutoshipProfile.next_run_date,
            AutoshipProfile.last_order_date).order_by(AutoshipProfile.id)).all(),
    }


def test_a_chunk_over_every_case_the_engine_distinguishes_orders_by_the_rule_book(
        session, redis, member, product):
    """Price policies, backorders, left-out and withdrawn items, missed weeks, rolling dates,
    an ending series, nothing to ship, below the minimum PV and an order already shipped now:
    one chunk, each case's outcome, every total as the rule book computes it."""
    from portal.payments.gateway import SandboxGateway
    from tests.factories import make_user, make_address, make_card
    scarce = make_product(session, name="Scarce", on_hand=0)
    gone = make_product(session, name="Gone")
    no_cases = make_product(session, name="No cases")
    first = D(2026, 12, 1)
    weekly, ending = Recurrence.every(1, "weeks"), Recurrence.parse("FREQ=MONTHLY;INTERVAL=1;COUNT=1")
    for items, options in [
        ([(product.id, "each", 2)], {}),
        ([(product.id, "case", 12)], {}),                                    # free shipping
        ([(product.id, "each", 1), (scarce.id, "each", 1)], {}),              # backordered
        ([(product.id, "each", 2), (scarce.id, "each", 1)], {"out_of_stock_policy": "skip_item"}),
        ([(scarce.id, "each", 3)], {"out_of_stock_policy": "skip_item"}),     # nothing ships
        ([(product.id, "each", 2), (gone.id, "each", 1)], {"price_policy": "locked"}),
        ([(no_cases.id, "case", 1), (product.id, "each", 2)], {}),            # unit withdrawn
        ([(product.id, "each", 2)], {"rule": weekly}),                        # missed weeks
        ([(product.id, "each", 3)], {"rule": weekly, "regularity": "rolling"}),
        ([(product.id, "each", 4)], {"rule": ending}),                         # the series ends
        ([(gone.id, "each", 1)], {}),                                          # nothing sold
        ([(product.id, "each", 1)], {}),                                      # below the minimum PV
    ]:
        new_profile(session, member, product, first=first, items=items, **options)
    other = make_user(session)
    other.home, other.card = make_address(session, other, moniker="Office"), make_card(session, other, redis)
    shipped = new_profile(session, other, product, first=first, items=[(product.id, "lot", 1)])
    session.flush()
    shipping_now.ship_now(session, user=other, profile=shipped, gateway=SandboxGateway(redis),
                          shipping=ENGINE.shipping, today=TODAY, base_url="http://portal.test")
    shipped.next_run_date = first  # the run still sees it as due: the order exists already
    gone.active = False
    no_cases.unit("case").active = False
    product.unit("each").price = Decimal("11.50")
    session.commit()

    rules = EngineRules(shipping=ENGINE.shipping, min_pv=Decimal("10"), chunk_size=100)
    as_of = D(2026, 12, 22)
    run_id = engine.start_run(session, as_of=as_of, trigger="test", chunk_size=rules.chunk_size).id
    session.commit()
    result = engine.materialise_chunk(session, run_id=run_id, number=0, rules=rules)
    session.commit()
    session.expire_all()
    # No order: ship-now's (it exists already), nothing ships, nothing sold, below the PV.
    assert (result.due, result.created, result.skipped, result.missed) == (13, 9, 3, 6)
    outcome = _outcome(session)
    made = [o for o in outcome["orders"] if o[2] == member.id]
    assert len(made) == 9
    for *_, subtotal, fee, total, pv, bv in made:
        assert fee == rules.shipping.fee(subtotal) and total == subtotal + fee, (subtotal, fee, total)
        assert pv >= rules.min_pv
    for order in session.scalars(select(Order).where(Order.user_id == member.id)):
        assert order.subtotal == sum((line.line_total for line in order.lines), Decimal("0"))
        assert order.pv_total == sum((line.pv for line in order.lines), Decimal("0"))
    assert {(action, details.split(" (")[0]) for _, _, action, details in outcome["events"]} >= {
        ("item backordered", "Scarce"), ("item skipped: out of stock", "Scarce"),
        ("item left out: no longer sold", "Gone"), ("item left out: no longer sold", "No cases")}
    assert [o[2] for o in outcome["occurrences"] if o[2] == "skipped"] == ["skipped"] * 3


def test_a_standing_order_of_free_items_is_charged_nothing_not_the_shipping_fee(session, member):
    """A free sample: $0.00 of items ships free on the profile's page, in its reminder and in
    the order the engine makes alike."""
    sample = make_product(session, name="Free sample", each_price=Decimal("0.00"),
                          each_pv=Decimal("0.00"), each_bv=Decimal("0.00"))
    profile = new_profile(session, member, sample, first=D(2026, 12, 1), items=[(sample.id, "each", 1)])
    session.commit()
    lines, _ = profiles.priced_items(profile)
    from portal.orders.pricing import totals
    shown = totals(lines, ENGINE.shipping)
    assert (shown.subtotal, shown.shipping, shown.total) == (Decimal("0.00"),) * 3

    run(session, D(2026, 12, 1))
    [order] = orders(session)
    assert (order.subtotal, order.shipping_fee, order.total) == (shown.subtotal, shown.shipping, shown.total)
