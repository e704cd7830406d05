"""An admin starts the autoship run for a day from the job dashboard and watches the real
worker complete it: the page polls with htmx until the final counts are shown."""

import re

import pytest
from playwright.sync_api import expect

from portal.clock import company_today
from portal.orders.models import Order
from tests.downline.conftest import give_autoship
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import count, hand_over, log_in, menu
from tests.factories import make_admin, make_product, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_admin_starts_a_run_and_watches_the_worker_complete_it(
        session, redis, new_context, live_worker, shoot):
    today = company_today()
    product = make_product(session, name="Vitamin D")
    for name in ("Ivy", "Jon", "Kim"):
        give_autoship(session, redis, make_user(session, first_name=name), product).next_run_date = today
    give_autoship(session, redis, make_user(session, first_name="Lee"), product)  # not due yet
    admin = make_admin(session, first_name="Ada")
    hand_over(session)
    page = new_context().new_page()
    log_in(page, admin)

    menu(page, "Autoship runs").click()
    expect(page.get_by_role("cell", name="No runs yet.")).to_be_visible()
    expect(page.get_by_label("Run for")).to_have_value(today.isoformat())
    shoot(page, "dashboard")
    page.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"/admin/autoship/runs/\d+$"))
    expect(page.get_by_role("status").first).to_contain_text("3 due profiles in 1 chunks")

    # No reload: htmx polls every 2 s until the worker has finished the chunk.
    page.evaluate("() => { window.notReloaded = true }")
    progress = page.locator(".run-progress")
    expect(progress.locator(".status")).to_have_text("done", timeout=60_000)
    expect(progress).to_contain_text("1 of 1 chunks · 3 due · 3 orders created · 0 skipped")
    expect(page.get_by_role("progressbar", name="Chunks done")).to_have_attribute("value", "1")
    assert page.evaluate("() => window.notReloaded === true")
    assert_accessible(page, "the finished run")
    shoot(page, "run")
    assert count(Order, Order.source == "autoship") == 3

    # The worker charges the new orders on the billing queue.
    for _ in range(120):
        if count(Order, Order.status == "paid") == 3:
            break
        page.wait_for_timeout(250)
    assert count(Order, Order.status == "paid") == 3

    page.get_by_role("link", name="Autoship runs").first.click()
    expect(page.get_by_role("row", name=re.compile(today.isoformat()))).to_contain_text("done")
