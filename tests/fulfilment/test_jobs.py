"""Planning as a job, with real RQ worker processes against the test database and Redis."""

from __future__ import annotations


import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from portal.clock import company_today
from portal.cart.services import add_to_cart
from portal.checkout.services import check_out
from portal.extensions import db
from portal.fulfilment import coordination
from portal.fulfilment.models import PlanningRun, Shipment, ShipmentPick
from portal.fulfilment.queries import allocation_mismatches
from portal.fulfilment.receiving import record_receipt
from portal.payments.gateway import SandboxGateway
from portal.queues import get_queue
from tests.factories import make_address, make_card, make_user
from tests.fulfilment.builders import SHIPPING, destination, paid_order, picks_per_product, product, stock_of
from tests.fulfilment.conftest import stop_worker, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.server]


def runs(session) -> list[PlanningRun]:
    found = session.scalars(select(PlanningRun).order_by(PlanningRun.id)
                            .execution_options(populate_existing=True)).all()
    session.commit()  # the worker sees only what is committed
    return found


def planning_is_idle(redis) -> bool:
    queue = get_queue("default")
    return (queue.count == 0 and StartedJobRegistry(queue=queue).count == 0
            and redis.get(coordination.PENDING_KEY) is None and redis.get(coordination.LOCK_KEY) is None)


def test_a_receipt_triggers_exactly_one_rerun(session, redis, run_worker):
    soap = product(session, 0)
    order_id, sku = paid_order(session, destination(session), (soap, 3)).id, soap.sku
    session.commit()
    run_worker("default")
    assert runs(session) == []  # placing test orders directly asked for nothing

    record_receipt(session, actor=None, sku=sku, eaches=5)
    session.commit()
    run_worker("default")
    [run] = runs(session)
    assert (run.status, run.trigger, run.orders, run.shipments_complete) == ("succeeded", "receipt", 1, 1)
    assert session.scalar(select(ShipmentPick.order_id)) == order_id
    assert stock_of(session, soap) == (5, 3)
    session.commit()

    run_worker("default")  # nothing else was waiting
    assert len(runs(session)) == 1
    assert get_queue("default").failed_job_registry.count == 0


def test_a_burst_of_100_new_orders_while_the_worker_is_busy_causes_one_run(app, session, redis, start_worker):
    """The orders' planning requests join the one pending job until a worker starts it. (The
    worker starts after the burst, as when it is busy elsewhere: with it running during the
    burst, how many runs the debounce makes depends on how fast the machine places orders.)"""
    soap = product(session, 10_000)
    shoppers = []
    for _ in range(10):
        member = make_user(session)
        shoppers.append((member, make_address(session, member, line1=f"{len(shoppers) + 1} Elm Road"),
                         make_card(session, member, redis)))
    session.commit()
    gateway = SandboxGateway(redis)

    placed = []
    for number in range(100):
        member, address, card = shoppers[number % len(shoppers)]
        add_to_cart(session, user=member, product_id=soap.id, unit_code="each", quantity=1 + number % 3,
                    max_quantity=999)
        placed.append(check_out(session, user=member, address_id=address.id, card_id=card.id,
                                idempotency_key=f"burst-{number:03d}", gateway=gateway,
                                shipping=SHIPPING, today=company_today()).id)
        session.commit()
    worker = start_worker("default")

    wait_until(lambda: planning_is_idle(redis), timeout=90)
    output = stop_worker(worker)
    done = runs(session)
    assert len(done) == 1, [(r.trigger, r.orders) for r in done]
    assert all(run.status == "succeeded" for run in done), output[-2000:]
    assert sum(int(part.split("×")[1]) if "×" in part else 1
               for run in done for part in run.trigger.split(", ")) == 100  # every request answered
    planned = set(session.scalars(select(ShipmentPick.order_id).join(Shipment)
                                  .where(Shipment.status == "planned")))
    assert planned == set(placed)  # the last run saw every order
    assert session.scalar(select(func.count()).select_from(Shipment)) == len(shoppers)  # siblings together


def test_two_workers_planning_at_once_take_turns_and_never_over_allocate(app, session, redis, start_worker):
    items = [product(session, 6) for _ in range(4)]
    for index in range(40):
        paid_order(session, destination(session), (items[index % 4], 1 + index % 3),
                   (items[(index + 2) % 4], 2), minutes=index)
    session.commit()
    coordination.enqueue_run(app, "test one")
    coordination.enqueue_run(app, "test two")
    workers = [start_worker("default", burst=True) for _ in range(2)]
    for worker in workers:
        worker.wait(timeout=90)
        assert worker.returncode == 0, worker.stdout.read()[-2000:]

    first, second = runs(session)
    assert {first.trigger, second.trigger} == {"test one", "test two"}
    assert first.status == second.status == "succeeded"
    assert first.finished_at <= second.started_at  # one after the other
    held = picks_per_product(session)
    for item in items:
        on_hand, allocated = stock_of(session, item)
        assert allocated == held.get(item.id, 0) <= on_hand
    assert allocation_mismatches(db.session) == []
