"""An upline IBO reviews the standing orders of their downline and filters them in place."""

import re

import pytest
from playwright.sync_api import expect

from tests.downline.conftest import give_autoship
from tests.e2e.axe import assert_accessible
from tests.e2e.conftest import hand_over, log_in
from tests.factories import make_ibo, make_product, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_upline_filters_the_downline_autoships_table_in_place(session, redis, new_context, shoot):
    uma = make_ibo(session, first_name="Uma", last_name="Upline", root=True)
    ben = make_ibo(session, first_name="Ben", last_name="Baker", sponsor=uma)
    cleo = make_user(session, first_name="Cleo", last_name="Chen", sponsor=ben)
    dan = make_user(session, first_name="Dan", last_name="Diaz", sponsor=uma)
    outsider = make_user(session, first_name="Olga", last_name="Outside", root=True)
    product = make_product(session, name="Vitamin D")
    for person, status in ((ben, "active"), (cleo, "paused"), (dan, "payment_failed"),
                           (outsider, "active")):
        give_autoship(session, redis, person, product, status=status)
    hand_over(session)
    page = new_context().new_page()
    log_in(page, uma)

    page.get_by_role("link", name="Your team's autoships →").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Downline autoships")
    rows = page.locator("#team-rows tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#team-rows")).not_to_contain_text("Olga")
    shoot(page, "table")

    # Choosing a status swaps the results in place (no page load) and keeps the URL shareable.
    page.evaluate("() => { window.notReloaded = true }")
    page.get_by_label("Autoship status").select_option(label="Paused")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Cleo Chen")
    expect(page).to_have_url(re.compile(r"status=paused"))
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded, not swapped"
    assert_accessible(page, "the filtered team table")
    shoot(page, "paused")

    page.get_by_label("Autoship status").select_option(label="Any")
    page.get_by_label("Name or member no.").fill("Ben")
    page.get_by_role("button", name="Apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ben Baker")

    # A person's page: their standing orders without card or street.
    page.get_by_role("link", name="Ben Baker").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ben Baker")
    expect(page.get_by_role("main")).not_to_contain_text("12 Secret Lane")
    shoot(page, "person")
