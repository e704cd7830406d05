"""The planning run on a real database: what it loads, what it saves, what it allocates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from portal.catalog.models import StockLevel
from portal.extensions import db
from portal.fulfilment import planning
from portal.fulfilment.models import PlanningRun, Shipment, ShipmentPick
from portal.fulfilment.planning import AllocationRefused, load_snapshot, run_planning
from portal.fulfilment.queries import allocation_mismatches
from portal.fulfilment.shipments import release_shipment
from portal.orders.models import Order
from portal.orders.services import change_status
from tests.fulfilment.builders import (destination, expected, paid_order, picks_per_product, product, ship,
                                       shipments, stock_of)
from tests.races import run_together

TODAY = date(2026, 3, 2)


def test_siblings_that_can_all_be_filled_ship_together_and_hold_their_stock(session):
    soap, tea = product(session, 10), product(session, 10)
    home = destination(session)
    first = paid_order(session, home, (soap, 3), minutes=0)
    second = paid_order(session, home, (tea, 2), (soap, 1), minutes=5)
    run = run_planning(session, trigger="test")
    session.commit()

    assert shipments(session) == [("complete", "planned", [(first.id, soap.sku, 3),
                                                           (second.id, tea.sku, 2),
                                                           (second.id, soap.sku, 1)])]
    assert stock_of(session, soap) == (10, 4) and stock_of(session, tea) == (10, 2)
    assert (run.status, run.orders, run.lines, run.shipments_complete, run.shipments_partial,
            run.orders_shipping, run.orders_split, run.orders_waiting) == ("succeeded", 2, 3, 1, 0, 2, 0, 0)
    assert run.shipments_per_order == 0.5 and run.line_fill_rate == 1.0 and run.split_rate == 0.0
    assert run.finished_at >= run.started_at and run.trigger == "test"
    assert allocation_mismatches(session) == []


def test_short_destinations_ship_in_part_latest_expected_arrival_first(session):
    """Pass 2 takes the destination whose missing stock comes last first, as the planner says."""
    soap, late, soon = product(session, 3), product(session, 0), product(session, 0)
    expected(session, late, 50, TODAY + timedelta(days=30))
    expected(session, soon, 50, TODAY + timedelta(days=3))
    waits_for_soon = paid_order(session, destination(session), (soap, 3), (soon, 1), minutes=0)
    waits_for_late = paid_order(session, destination(session), (soap, 3), (late, 1), minutes=10)
    run = run_planning(session)
    session.commit()

    # Both are short; the one waiting for the later arrival is taken first and gets the soap.
    assert shipments(session) == [("partial", "planned", [(waits_for_late.id, soap.sku, 3)])]
    assert stock_of(session, soap) == (3, 3)
    assert (run.orders, run.shipments_partial, run.orders_split, run.orders_waiting) == (2, 1, 1, 1)
    assert run.line_fill_rate == 0.25 and run.eaches_allocated == 3 and run.eaches_demanded == 8
    assert waits_for_soon.id not in {pick[0] for _, _, picks in shipments(session) for pick in picks}


def test_two_lines_of_one_sku_are_saved_against_the_right_lines(session):
    soap = product(session, 4)
    order = paid_order(session, destination(session), (soap, 3), (soap, 5))
    run_planning(session)
    session.commit()
    picks = session.execute(select(ShipmentPick.order_line_id, ShipmentPick.eaches)
                            .order_by(ShipmentPick.order_line_id)).all()
    assert [(line_id, eaches) for line_id, eaches in picks] == [(order.lines[0].id, 3), (order.lines[1].id, 1)]


def test_a_rerun_replaces_the_planned_shipments_and_their_allocation(session):
    soap, tea = product(session, 10), product(session, 10)
    home, work = destination(session), destination(session)
    stays = paid_order(session, home, (soap, 4), minutes=0)
    changes = paid_order(session, work, (tea, 2), minutes=1)
    first = run_planning(session)
    session.commit()
    ids = dict(session.execute(select(Shipment.destination_key, Shipment.id)).all())

    paid_order(session, work, (tea, 1), minutes=2)  # a sibling joins the second destination
    second = run_planning(session)
    session.commit()
    assert stock_of(session, soap) == (10, 4)  # not 8: the first plan's allocation was given back
    assert stock_of(session, tea) == (10, 3)
    now = dict(session.execute(select(Shipment.destination_key, Shipment.id)).all())
    assert now[home.destination_key] == ids[home.destination_key]  # unchanged: kept, same id
    assert now[work.destination_key] != ids[work.destination_key]  # changed: replaced
    assert set(session.scalars(select(Shipment.run_id))) == {first.id, second.id}  # who planned each
    assert [kind for kind, _, _ in shipments(session)] == ["complete", "complete"]
    assert shipments(session)[0][2] == [(stays.id, soap.sku, 4)]
    assert (changes.id, tea.sku, 2) in shipments(session)[1][2]
    assert allocation_mismatches(session) == []


def test_a_rerun_with_nothing_new_changes_nothing_but_the_run(session):
    soap = product(session, 3)
    for minutes in range(4):
        paid_order(session, destination(session), (soap, 1), minutes=minutes)
    run_planning(session)
    session.commit()
    before = shipments(session)
    ids = set(session.scalars(select(Shipment.id)))
    run_planning(session)
    session.commit()
    assert shipments(session) == before and set(session.scalars(select(Shipment.id))) == ids
    assert stock_of(session, soap) == (3, 3)


def test_only_paid_orders_are_planned(session):
    soap = product(session, 100)
    home = destination(session)
    paid = paid_order(session, home, (soap, 1))
    for status in ("pending_payment", "cancelled", "payment_failed"):
        paid_order(session, home, (soap, 1), status=status)
    run_planning(session)
    session.commit()
    assert shipments(session) == [("complete", "planned", [(paid.id, soap.sku, 1)])]


def test_a_cancelled_order_leaves_the_next_plan_and_gives_its_stock_back(session):
    soap = product(session, 5)
    order = paid_order(session, destination(session), (soap, 5))
    run_planning(session)
    session.commit()
    change_status(session, session.get(Order, order.id), "cancelled", "changed their mind")
    run_planning(session)
    session.commit()
    assert shipments(session) == [] and stock_of(session, soap) == (5, 0)


def test_released_shipments_stay_and_their_orders_are_not_planned_again(session):
    soap = product(session, 5)
    released_order = paid_order(session, destination(session), (soap, 3), minutes=0)
    run_planning(session)
    session.commit()
    [shipment_id] = session.scalars(select(Shipment.id))
    release_shipment(session, actor=None, shipment_id=shipment_id)
    session.commit()
    newcomer = paid_order(session, destination(session), (soap, 4), minutes=30)
    run_planning(session)
    session.commit()

    assert session.get(Order, released_order.id).status == "released"
    assert shipments(session) == [("partial", "planned", [(newcomer.id, soap.sku, 2)]),
                                  ("complete", "released", [(released_order.id, soap.sku, 3)])]
    assert stock_of(session, soap) == (5, 5)
    assert allocation_mismatches(session) == []


def test_the_rest_of_a_partly_released_order_ships_when_stock_arrives(session):
    from portal.fulfilment.receiving import record_receipt
    soap = product(session, 3)
    order = paid_order(session, destination(session), (soap, 5))
    run_planning(session)
    session.commit()
    [first] = session.scalars(select(Shipment.id))
    release_shipment(session, actor=None, shipment_id=first)
    session.commit()
    assert session.get(Order, order.id).status == "paid"  # two eaches still to come

    run_planning(session)
    session.commit()
    assert shipments(session, "planned") == []  # nothing in stock for the rest
    record_receipt(session, actor=None, sku=soap.sku, eaches=2)
    run_planning(session)
    session.commit()
    [second] = session.scalars(select(Shipment.id).where(Shipment.status == "planned"))
    assert shipments(session, "planned") == [("complete", "planned", [(order.id, soap.sku, 2)])]

    release_shipment(session, actor=None, shipment_id=second)
    session.commit()
    assert session.get(Order, order.id).status == "released"
    ship(session, first)
    session.commit()
    assert session.get(Order, order.id).status == "released"  # one box is still in the warehouse
    ship(session, second)
    session.commit()
    assert session.get(Order, order.id).status == "shipped"
    assert stock_of(session, soap) == (0, 0)
    assert run_planning(session).orders == 0


def test_the_snapshot_carries_expected_arrivals_of_open_purchase_order_lines_only(session):
    soap, tea, salt = product(session, 0), product(session, 0), product(session, 0)
    expected(session, soap, 10, TODAY + timedelta(days=9))
    expected(session, soap, 10, TODAY + timedelta(days=4))
    received = expected(session, tea, 10, TODAY + timedelta(days=1))
    received.lines[0].eaches_received = 10
    session.flush()
    snapshot = load_snapshot(session)
    assert snapshot.eta[soap.sku].date() == TODAY + timedelta(days=4)
    assert tea.sku not in snapshot.eta and salt.sku not in snapshot.eta


def test_an_allocation_the_guard_refuses_aborts_the_whole_run(session, monkeypatch):
    soap = product(session, 2)
    paid_order(session, destination(session), (soap, 5))
    session.commit()
    real_load = planning.load_snapshot

    def load_with_phantom_stock(session_):
        snapshot = real_load(session_)
        snapshot.stock[soap.sku] = 100  # as if stock had shrunk after it was read
        return snapshot

    monkeypatch.setattr(planning, "load_snapshot", load_with_phantom_stock)
    with pytest.raises(AllocationRefused):
        run_planning(session)
    session.rollback()
    assert stock_of(session, soap) == (2, 0)
    assert session.scalar(select(func.count()).select_from(Shipment)) == 0
    assert session.scalar(select(func.count()).select_from(PlanningRun)) == 0


def test_the_database_refuses_allocating_more_than_is_on_hand(session):
    soap = product(session, 2)
    session.commit()
    with pytest.raises(IntegrityError):
        session.execute(update(StockLevel).where(StockLevel.product_id == soap.id).values(allocated=3))
    session.rollback()


@pytest.mark.server
def test_two_runs_at_once_take_turns_and_never_over_allocate(app, session):
    """Two threads plan at the same moment without any Redis lock: the database guard alone
    (an advisory lock) makes them take turns."""
    products = [product(session, 7) for _ in range(3)]
    for index in range(30):
        paid_order(session, destination(session), (products[index % 3], 1 + index % 4),
                   (products[(index + 1) % 3], 2), minutes=index)
    session.commit()
    _, errors = run_together(app, 2, lambda _: run_planning(db.session, trigger="thread"))
    assert errors == []
    runs = session.scalars(select(PlanningRun).order_by(PlanningRun.started_at)).all()
    assert [run.status for run in runs] == ["succeeded", "succeeded"]
    assert runs[0].finished_at <= runs[1].started_at  # one after the other, never together
    held = picks_per_product(session)
    for item in products:
        on_hand, allocated = stock_of(session, item)
        assert allocated == held.get(item.id, 0) <= on_hand
    assert allocation_mismatches(session) == []


@pytest.mark.server
def test_the_planning_lock_is_an_advisory_lock(session):
    planning.hold_planning_lock(session)
    held = session.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                "AND pid = pg_backend_pid()")).scalar()
    assert held == 1
    session.rollback()


def saved_plan(session) -> list[tuple[str, str, list[tuple[int, str, int]]]]:
    """The planned shipments in plan order, as (destination, kind, picks)."""
    from portal.orders.models import OrderLine
    rows = session.execute(
        select(Shipment.position, Shipment.destination_key, Shipment.kind, ShipmentPick.order_id,
               OrderLine.sku, ShipmentPick.eaches)
        .join(ShipmentPick, ShipmentPick.shipment_id == Shipment.id)
        .join(OrderLine, OrderLine.id == ShipmentPick.order_line_id)
        .where(Shipment.status == "planned").order_by(Shipment.position, ShipmentPick.id)).all()
    plan: dict[int, tuple] = {}
    for position, destination_key, kind, order_id, sku, eaches in rows:
        plan.setdefault(position, (destination_key, kind, []))[2].append((order_id, sku, eaches))
    return [plan[position] for position in sorted(plan)]


def fresh_plan(session) -> list[tuple[str, str, list[tuple[int, str, int]]]]:
    """What the pure planner says for the data as it is now (computed, then rolled back)."""
    planning.release_planned_allocations(session)
    snapshot = load_snapshot(session)
    session.rollback()
    return [(s.destination, s.kind, [(p.order_id, p.sku, p.qty) for p in s.picks])
            for s in planning.plan_shipments(snapshot.orders, snapshot.stock, snapshot.eta)]


@pytest.mark.parametrize("seed", range(4))
def test_whatever_happens_between_runs_the_saved_plan_is_the_planners(session, seed):
    """Orders, receipts, cancellations and releases in random order: after every run the saved
    plan is exactly what plan_shipments gives for the same data, and allocated is what planned
    and released shipments hold."""
    import random
    from portal.fulfilment.receiving import record_receipt
    rng = random.Random(seed)
    items = [product(session, rng.randint(0, 30)) for _ in range(4)]
    for item in items[:3]:
        expected(session, item, 20, TODAY + timedelta(days=rng.randint(1, 30)))
    places = [destination(session) for _ in range(5)]
    minutes = iter(range(10_000))
    for _ in range(15):
        for _ in range(rng.randint(0, 3)):
            picks = rng.sample(items, rng.randint(1, 3))
            paid_order(session, rng.choice(places), *[(p, rng.randint(1, 4)) for p in picks],
                       minutes=next(minutes))
        session.commit()
        action = rng.choice(("receipt", "cancel", "release", "nothing"))
        if action == "receipt":
            record_receipt(session, actor=None, sku=rng.choice(items).sku, eaches=rng.randint(1, 5))
        elif action == "cancel":
            paid = session.scalars(select(Order).where(Order.status == "paid")).all()
            if paid:
                change_status(session, rng.choice(paid), "cancelled")
        elif action == "release":
            planned = session.scalars(select(Shipment.id).where(Shipment.status == "planned")).all()
            if planned:
                release_shipment(session, actor=None, shipment_id=rng.choice(planned))
        session.commit()
        run_planning(session)
        session.commit()
        assert saved_plan(session) == fresh_plan(session)
        assert allocation_mismatches(session) == []
