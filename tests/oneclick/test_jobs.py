"""1-Click jobs with real RQ worker processes, and the single-action endpoint on a real web
server process under real concurrency."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from jobs.cron import schedule
from jobs.oneclick import sweep_closed_windows
from portal.clock import utcnow
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.oneclick.identifiers import COOKIE_NAME
from portal.oneclick.models import OneClickRequest
from portal.oneclick.finalising import close_window
from portal.orders.models import Order, OrderLine
from portal.payments.gateway import SandboxGateway
from portal.queues import get_queue
from tests.factories import make_card, make_product
from tests.live import HttpBrowser
from tests.oneclick.conftest import TODAY, enable, make_shopper
from tests.races import all_at_once

pytestmark = pytest.mark.slow


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def failures() -> list[str]:
    """The tracebacks of failed jobs on the default queue (empty when none failed)."""
    from rq.job import Job
    queue = get_queue("default")
    return [Job.fetch(job_id, connection=queue.connection).exc_info
            for job_id in queue.failed_job_registry.get_job_ids()]


def open_order_for(session, redis, shopper, product, quantity=1, minutes_left=-1):
    """A single-action order placed through the service, its window moved as asked."""
    from tests.oneclick.conftest import NOW, place
    confirmation, _ = place(session, shopper, f"key-job-{product.id:012d}-{quantity:03d}",
                            product=product, quantity=quantity, now=NOW)
    session.execute(update(Order).where(Order.id == confirmation.order_id)
                    .values(combine_until=utcnow() + timedelta(minutes=minutes_left)))
    session.commit()
    return confirmation.order_id


def test_the_sweep_is_scheduled_every_minute(app):
    assert {"func": sweep_closed_windows, "queue_name": "default", "interval": 60} in schedule(app)


def test_a_real_worker_finalises_closed_windows_and_leaves_open_ones(session, redis, run_worker):
    shopper = make_shopper(session, redis)
    closed = open_order_for(session, redis, shopper, make_product(session, each_price=Decimal("60.00")), 2)
    office_card = make_card(session, shopper.user, redis, number="5555555555554444")
    enable(session, shopper.user, shopper.token, shopper.address, office_card)
    still_open = open_order_for(session, redis, shopper, make_product(session), minutes_left=30)
    session.close()

    get_queue("default").enqueue("jobs.oneclick.sweep_closed_windows")
    run_worker("default")  # the sweep enqueues the finalisation, the same burst runs it
    assert failures() == []
    paid, waiting = db.session.get(Order, closed), db.session.get(Order, still_open)
    assert paid.status == "paid" and paid.charge_id.startswith("ch_")
    assert [c.to_status for c in paid.history] == ["open", "pending_payment", "paid"]
    assert waiting.status == "open" and waiting.charge_id is None
    charge = SandboxGateway(redis).charges_for(f"oneclick-order:{closed}")
    assert charge.status == "succeeded" and Decimal(charge.amount) == Decimal("120.00")
    assert count(OutboxMessage, OutboxMessage.subject.contains("confirmed")) == 1

    get_queue("default").enqueue("jobs.oneclick.sweep_closed_windows")  # again: nothing to do
    run_worker("default")
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1


def test_a_worker_that_died_after_charging_never_charges_twice(session, redis, run_worker):
    """The crashed worker charged the card and died before its commit: the order is still
    pending payment. The next sweep finalises it with the same gateway key: one charge."""
    shopper = make_shopper(session, redis)
    order_id = open_order_for(session, redis, shopper, make_product(session))
    close_window(session, order_id=order_id, now=utcnow(), today=TODAY)
    session.commit()
    order = session.get(Order, order_id)
    first = SandboxGateway(redis).charge(shopper.card.token, order.total, "USD",
                                         idempotency_key=f"oneclick-order:{order_id}")
    session.close()  # ...and the worker died here, before recording the charge

    get_queue("default").enqueue("jobs.oneclick.sweep_closed_windows")
    run_worker("default")
    order = db.session.get(Order, order_id)
    assert order.status == "paid" and order.charge_id == first.id
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1


def test_a_declined_card_fails_the_order_and_mails_the_person(session, redis, run_worker):
    shopper = make_shopper(session, redis)
    declining = make_card(session, shopper.user, redis, number="4000000000009995")
    enable(session, shopper.user, shopper.token, shopper.address, declining)
    order_id = open_order_for(session, redis, shopper, make_product(session))
    session.close()
    get_queue("default").enqueue("jobs.oneclick.finalise_order", order_id)
    run_worker("default")
    order = db.session.get(Order, order_id)
    assert order.status == "payment_failed" and order.charge_id is None
    mail = db.session.scalar(select(OutboxMessage))
    assert "payment failed" in mail.subject and "insufficient funds" in mail.body


def test_the_sweep_does_not_enqueue_an_order_twice(session, redis, app):
    shopper = make_shopper(session, redis)
    open_order_for(session, redis, shopper, make_product(session))
    session.close()
    from jobs.oneclick import sweep_closed_windows
    assert sweep_closed_windows() == 1
    assert sweep_closed_windows() == 0  # its job is still waiting
    assert get_queue("default").count == 1


# --- A real server, real concurrency -------------------------------------------------------------

class Browser(HttpBrowser):
    """A browser against the live server: cookies kept, forms read from the pages."""

    def __init__(self, base: str, cookies: dict[str, str]):
        super().__init__(base, cookies, timeout=30)

    def buy_form(self, product_id: int) -> dict:
        status, _, page = self.request("GET", f"/shop/products/{product_id}")
        assert status == 200
        return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
                "product_id": product_id, "unit": "each", "quantity": 1,
                "person": re.search(r'name="person" value="(\d+)"', page).group(1),
                "idempotency_key": re.search(r'name="idempotency_key" id="oneclick-key-\d+" value="([^"]+)"', page).group(1)}


def test_fifty_concurrent_identical_presses_on_a_real_server_make_one_order(live_server, session, redis):
    shopper = make_shopper(session, redis)
    product_id = make_product(session).id
    session.commit()
    session.close()  # hold no transaction while the server works
    browser = Browser(live_server, {COOKIE_NAME: shopper.token})
    form = browser.buy_form(product_id)

    answers, errors = all_at_once(50, lambda n: browser.request("POST", "/1-click/buy", form)[:2])
    assert errors == []
    assert {status for status, _ in answers} == {303}
    assert len({headers["Location"] for _, headers in answers}) == 1  # the same answer, 50 times
    htmx_answers, errors = all_at_once(20, lambda n: browser.request("POST", "/1-click/buy", form, htmx=True))
    assert errors == [] and {status for status, _, _ in htmx_answers} == {200}
    assert len({re.search(r"SO\d{8}", text).group(0) for _, _, text in htmx_answers}) == 1
    assert count(Order) == 1 and count(OrderLine) == 1 and count(OneClickRequest) == 1


def test_concurrent_presses_in_two_tabs_on_a_real_server_combine_into_one_order(live_server, session, redis):
    shopper = make_shopper(session, redis)
    product_id = make_product(session, each_price=Decimal("3.00")).id
    session.commit()
    session.close()
    browser = Browser(live_server, {COOKIE_NAME: shopper.token})
    tabs = [browser.buy_form(product_id) for _ in range(10)]  # each tab rendered its own button

    answers, errors = all_at_once(20, lambda n: browser.request("POST", "/1-click/buy", tabs[n % 10])[0])
    assert errors == [] and set(answers) == {303}
    assert count(Order) == 1 and count(OrderLine) == 10  # each tab once, one open order
    assert db.session.scalar(select(Order.total)) == Decimal("30.00") + Decimal("5.95")
