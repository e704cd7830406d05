"""Charging what the engine made: once per order, retried after declines, never twice."""

import os
import re
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import hold_points
from portal.autoship import engine, runs
from portal.orders import charging
from portal.autoship.models import AutoshipProfile, AutoshipRun
from portal.clock import utcnow
from portal.mail.models import OutboxMessage
from portal.orders.billing import call_gateway, orders_due_for_retry, orders_with_stale_attempts, prepare_charges
from portal.orders.models import ChargeAttempt, Order
from portal.payments.gateway import SandboxGateway
from tests.autoship.conftest import new_profile
from tests.autoship.test_engine import ENGINE
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_admin, make_card

D = date


@pytest.fixture
def materialised(session, member, product):
    def make(card_number="4242424242424242", count=1):
        card = make_card(session, member, session.info["redis"], number=card_number)
        profiles = [new_profile(session, member, product, first=D(2026, 12, 1)) for _ in range(count)]
        for profile in profiles:
            profile.payment_method_id = card.id
        session.commit()
        engine.run_in_process(session, as_of=D(2026, 12, 1), trigger="test", rules=ENGINE)
        return [o.id for o in session.scalars(select(Order).order_by(Order.id))]
    return make


@pytest.fixture(autouse=True)
def _redis_in_session_info(session, redis):
    session.info["redis"] = redis
    yield
    session.info.pop("redis", None)


def charge(app, session, ids, today=D(2026, 12, 1)):
    return charging.charge(app, session, ids, today)


def test_charging_pays_each_order_once_and_mails_the_member(app, session, materialised):
    ids = materialised(count=3)
    result = charge(app, session, ids)
    assert sorted(result.paid) == ids
    assert {o.status for o in session.scalars(select(Order))} == {"paid"}
    again = charge(app, session, ids)
    assert again.paid == [] and session.scalar(select(func.count()).select_from(ChargeAttempt)) == 3
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 3


def test_a_decline_is_retried_on_schedule_then_the_order_is_cancelled_and_the_profile_held(app, session, materialised):
    [order_id] = materialised("4000000000000002")
    today = D(2026, 12, 1)
    result = charge(app, session, [order_id], today)
    order = session.get(Order, order_id)
    assert result.declined == [order_id] and order.status == "payment_failed"
    assert order.next_payment_retry_on == D(2026, 12, 2)
    for day, following in ((D(2026, 12, 2), D(2026, 12, 5)), (D(2026, 12, 5), D(2026, 12, 10))):
        assert orders_due_for_retry(session, day - timedelta(days=1)) == []
        assert orders_due_for_retry(session, day) == [order_id]
        charge(app, session, [order_id], day)
        session.expire_all()
        assert session.get(Order, order_id).next_payment_retry_on == following
    charge(app, session, [order_id], D(2026, 12, 10))
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.payment_attempts, order.next_payment_retry_on) == ("cancelled", 4, None)
    assert session.get(AutoshipProfile, order.autoship_profile_id).status == "payment_failed"
    subjects = session.scalars(select(OutboxMessage.subject).order_by(OutboxMessage.id)).all()
    assert sum("declined" in s for s in subjects) == 3 and "cancelled" in subjects[-1]


def test_a_worker_that_dies_between_the_gateway_and_the_commit_never_charges_twice(app, session, redis, materialised):
    [order_id] = materialised()
    gateway = SandboxGateway(redis)
    attempts = prepare_charges(session, [order_id])
    session.commit()
    first = call_gateway(session, gateway, attempts)  # the card is charged ...
    session.rollback()                                 # ... and the worker dies before recording it
    assert session.get(Order, order_id).status == "pending_payment"
    # Found again by a re-run of the chunk's job, and by the cron tick once the attempt is stale.
    run = session.scalar(select(AutoshipRun))
    assert runs.chunk_orders(session, run.id, 0) == [order_id]
    assert orders_with_stale_attempts(session, utcnow() - timedelta(minutes=15)) == []
    assert orders_with_stale_attempts(session, utcnow() + timedelta(seconds=1)) == [order_id]
    result = charge(app, session, [order_id])          # the job runs again
    assert result.paid == [order_id]
    order = session.get(Order, order_id)
    assert order.charge_id == first[0].charge_id
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1
    assert session.scalar(select(func.count()).select_from(ChargeAttempt)) == 1
    assert runs.chunk_orders(session, run.id, 0) == []
    assert orders_with_stale_attempts(session, utcnow() + timedelta(seconds=1)) == []


def test_a_processing_error_is_retried_the_next_day_without_counting_as_a_decline(app, session, materialised):
    [order_id] = materialised("4000000000000119")
    result = charge(app, session, [order_id])
    order = session.get(Order, order_id)
    assert result.errors == [order_id] and order.status == "pending_payment"
    assert order.next_payment_retry_on == D(2026, 12, 2)


def test_a_member_pays_a_declined_order_at_once_with_another_card(app, client, session, redis, member, materialised):
    [order_id] = materialised("4000000000009995")
    charge(app, session, [order_id])
    good = make_card(session, member, redis)
    log_in(client, member)
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Your payment was declined" in page
    response = post_form(client, f"/orders/{order_id}/pay", {"card_id": good.id}, page=f"/orders/{order_id}")
    assert response.status_code == 303
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.payment_method_id) == ("paid", good.id)
    paid = page_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Thank you: order {order.number} is paid." in paid and "Your payment was declined" not in paid
    again = post_form(client, f"/orders/{order_id}/pay", {"card_id": good.id}, page=f"/orders/{order_id}")
    assert again.status_code == 422
    assert "Not paid This order is not waiting for a payment." in page_text(again.get_data(as_text=True))


def test_paying_with_something_that_is_no_card_id_is_a_422(app, client, session, redis, member, materialised):
    [order_id] = materialised("4000000000009995")
    charge(app, session, [order_id])
    log_in(client, member)
    for card_id in ("²", "9223372036854775808", "", "1e3"):
        response = post_form(client, f"/orders/{order_id}/pay", {"card_id": card_id}, page=f"/orders/{order_id}")
        assert response.status_code == 422, card_id
        assert "Not paid Choose a card." in page_text(response.get_data(as_text=True)), card_id
    session.expire_all()
    assert session.get(Order, order_id).status == "payment_failed"
    assert session.scalar(select(func.count()).select_from(ChargeAttempt)) == 1  # the run's decline alone
    assert "Your payment was declined" in client.get(f"/orders/{order_id}").get_data(as_text=True)


def test_reminders_go_once_before_the_run_with_items_total_and_links(app, session, member, product):
    from portal.autoship.notices import send_reminders
    new_profile(session, member, product, first=D(2026, 12, 4))
    session.commit()
    sent = send_reminders(session, today=D(2026, 12, 1), days_ahead=3, base_url="https://portal.example",
                          shipping=ENGINE.shipping)
    session.commit()
    again = send_reminders(session, today=D(2026, 12, 1), days_ahead=3, base_url="https://portal.example",
                           shipping=ENGINE.shipping)
    assert (sent, again) == (1, 0)
    body = session.scalar(select(OutboxMessage.body))
    assert "2 × Vitamin D  $20.00" in body and "Total $25.95" in body and "https://portal.example/autoship/" in body


def test_two_processes_recording_the_same_attempt_record_it_once(app, session, redis, materialised):
    [order_id] = materialised()
    gateway = SandboxGateway(redis)
    attempts = prepare_charges(session, [order_id])
    session.commit()
    outcomes = call_gateway(session, gateway, attempts)
    again = call_gateway(session, gateway, attempts)  # a second process sent the same attempt
    session.rollback()
    from portal.orders.billing import record_outcomes
    first = record_outcomes(session, outcomes, today=D(2026, 12, 1), retry_days=(1, 3, 5))
    session.commit()
    second = record_outcomes(session, again, today=D(2026, 12, 1), retry_days=(1, 3, 5))
    session.commit()
    assert (first.paid, second.paid) == ([order_id], [])
    assert session.get(Order, order_id).status == "paid"


@pytest.mark.server
def test_the_first_worker_at_a_hold_point_waits_there_until_released_in_the_test_configuration(app, redis, monkeypatch):
    point = hold_points.AFTER_GATEWAY_CALL
    monkeypatch.setitem(app.config, "TEST_HOLD_AT", point)
    first = threading.Thread(target=hold_points.hold_point, args=(app, point))
    first.start()
    reached = redis.blpop([hold_points.reached_key(point)], timeout=5)
    assert reached is not None and int(reached[1]) == os.getpid() and first.is_alive()
    hold_points.hold_point(app, point)  # a later arrival passes straight through
    redis.rpush(hold_points.release_key(point), 1)
    first.join(timeout=5)
    assert not first.is_alive()


@pytest.mark.parametrize("env_name, testing", [("production", False), ("development", False),
                                               ("production", True), ("test", False)])
def test_a_hold_point_does_nothing_outside_the_test_configuration(app, redis, monkeypatch, env_name, testing):
    monkeypatch.setitem(app.config, "TEST_HOLD_AT", hold_points.AFTER_GATEWAY_CALL)
    monkeypatch.setitem(app.config, "ENV_NAME", env_name)
    monkeypatch.setitem(app.config, "TESTING", testing)
    started = time.monotonic()
    hold_points.hold_point(app, hold_points.AFTER_GATEWAY_CALL)
    assert time.monotonic() - started < 0.5 and redis.keys("test-hold:*") == []


def test_the_failed_payments_page_lists_declined_and_cancelled_orders_not_paid_ones(
        app, client, session, member, product, materialised):

    declined, cancelled = materialised("4000000000000002", count=2)
    charge(app, session, [declined, cancelled])
    for day in (D(2026, 12, 2), D(2026, 12, 5), D(2026, 12, 10)):
        charge(app, session, [cancelled], day)
    paid = new_profile(session, member, product, first=D(2026, 12, 2))
    session.commit()
    engine.run_in_process(session, as_of=D(2026, 12, 2), trigger="test", rules=ENGINE)
    [paid_order] = session.scalars(select(Order.id).where(Order.autoship_profile_id == paid.id)).all()
    charge(app, session, [paid_order], D(2026, 12, 2))
    session.expire_all()
    numbers = {order_id: session.get(Order, order_id).number for order_id in (declined, cancelled, paid_order)}
    log_in(client, make_admin(session))
    session.commit()

    page = client.get("/admin/autoship/payments").get_data(as_text=True)

    rows = [page_text(row) for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)]
    listed = {number: row for number in numbers.values() for row in rows if number in row}
    assert set(listed) == {numbers[declined], numbers[cancelled]}  # the paid one is not listed
    assert "Payment failed" in listed[numbers[declined]] and "Dec 2" in listed[numbers[declined]]
    assert "Retry now" in listed[numbers[declined]]
    assert "Cancelled" in listed[numbers[cancelled]] and "Retry now" not in listed[numbers[cancelled]]
    # the one with a retry date comes before the cancelled one, which has none
    assert rows.index(listed[numbers[declined]]) < rows.index(listed[numbers[cancelled]])


def test_an_admin_retry_charges_a_declined_order_and_refuses_one_with_nothing_to_charge(
        app, session, materialised):
    [order_id] = materialised("4000000000000002")
    charge(app, session, [order_id])

    order, result = charging.retry_charge(app, session, order_id, D(2026, 12, 1))

    assert (result.declined, order.payment_attempts) == ([order_id], 2)
    for day in (D(2026, 12, 5), D(2026, 12, 10)):
        charge(app, session, [order_id], day)
    with pytest.raises(charging.NothingToCharge, match=r"is cancelled: nothing to charge"):
        charging.retry_charge(app, session, order_id, D(2026, 12, 11))


def planning_requests(redis) -> list[dict[str, int]]:
    from portal.fulfilment import coordination
    from portal.queues import get_queue

    return [coordination.take_requests(redis, job.id) for job in get_queue("default").get_jobs()
            if job.func_name == coordination.PLAN_JOB]


def test_a_charge_announces_the_paid_orders_and_fulfilment_is_asked_to_plan_them(
        app, session, redis, materialised):
    from portal.orders.signals import orders_paid

    ids = materialised(count=2)
    assert planning_requests(redis) == []
    announced = []

    def listen(sender, *, session, order_ids):
        announced.append(sorted(order_ids))

    with orders_paid.connected_to(listen):
        charge(app, session, ids)

    assert announced == [ids]
    assert planning_requests(redis) == [{"autoship payment": 1}]  # one run asked for, after the commit


def test_a_charge_announces_its_outcomes_and_the_member_is_told_of_a_decline_with_no_planning(
        app, session, redis, materialised):
    from portal.orders.signals import payments_recorded

    [order_id] = materialised("4000000000000002")
    announced = []

    def listen(sender, *, session, result):
        announced.append((result.paid, result.declined))

    with payments_recorded.connected_to(listen):
        charge(app, session, [order_id])

    assert announced == [([], [order_id])]
    number = session.get(Order, order_id).number
    assert session.scalars(select(OutboxMessage.subject)).all() == [f"Payment for order {number} was declined"]
    assert planning_requests(redis) == []


def test_ship_now_mails_the_confirmation_a_run_mails(app, session, member, product, materialised):
    from portal.autoship import shipping_now
    from tests.autoship.conftest import TODAY
    from tests.autoship.test_services import SHIPPING

    [run_order_id] = materialised()
    charge(app, session, [run_order_id])
    shipped = new_profile(session, member, product, first=D(2026, 12, 15))
    order = shipping_now.ship_now(session, user=member, profile=shipped, gateway=SandboxGateway(session.info["redis"]),
                                  shipping=SHIPPING, today=TODAY, base_url=app.config["BASE_URL"])
    run_order = session.get(Order, run_order_id)

    mails = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.recipient, m.subject) for m in mails] == [
        (member.email, f"Order {run_order.number} is paid"), (member.email, f"Order {order.number} is paid")]
    assert mails[1].body == mails[0].body.replace(run_order.number, order.number).replace(
        f"/orders/{run_order.id}", f"/orders/{order.id}").replace(f"${run_order.total}", f"${order.total}")
    assert f"{app.config['BASE_URL'].rstrip('/')}/orders/{order.id}\n" in mails[1].body


def test_a_declined_ship_now_mails_nothing(session, member, product):
    from portal.autoship import shipping_now
    from portal.payments.gateway import PaymentDeclined
    from tests.autoship.conftest import TODAY
    from tests.autoship.test_services import SHIPPING

    declining = make_card(session, member, session.info["redis"], number="4000000000000002")
    profile = new_profile(session, member, product, first=D(2026, 12, 15))
    profile.payment_method_id = declining.id
    with pytest.raises(PaymentDeclined):
        shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(session.info["redis"]),
                              shipping=SHIPPING, today=TODAY, base_url="http://portal.test")
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
