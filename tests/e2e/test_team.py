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


def test_a_branch_of_the_team_tree_opens_and_closes_again(session, redis, new_context, shoot):
    uma = make_ibo(session, first_name="Uma", last_name="Upline", root=True)
    ben = make_ibo(session, first_name="Ben", last_name="Baker", sponsor=uma)
    make_user(session, first_name="Cleo", last_name="Chen", sponsor=ben)
    make_user(session, first_name="Cody", last_name="Cole", sponsor=ben)
    hand_over(session)
    page = new_context().new_page()
    log_in(page, uma)
    page.goto("/team/tree")
    branch = page.get_by_text("2 recruits of Ben Baker", exact=True)
    cleo = page.get_by_role("link", name="Cleo Chen")
    expect(cleo).to_be_hidden()

    branch.focus()
    page.keyboard.press("Enter")  # opens, and loads Ben's recruits in place
    expect(cleo).to_be_visible()
    expect(page.get_by_role("link", name="Cody Cole")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/team/tree$"))
    assert_accessible(page, "the tree with a branch open")
    shoot(page, "open")

    page.keyboard.press("Enter")  # and closes again
    expect(cleo).to_be_hidden()
    branch.click()
    expect(cleo).to_be_visible()
    expect(page.locator("#children-" + ben.member_number + " > li")).to_have_count(2)  # loaded once


def test_without_javascript_a_branch_links_to_the_recruits(session, redis, new_context):
    uma = make_ibo(session, first_name="Uma", last_name="Upline", root=True)
    ben = make_ibo(session, first_name="Ben", last_name="Baker", sponsor=uma)
    make_user(session, first_name="Cleo", last_name="Chen", sponsor=ben)
    hand_over(session)
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, uma)
    page.goto("/team/tree")
    page.get_by_text("1 recruit of Ben Baker", exact=True).click()
    page.get_by_role("link", name="Open the 1 recruit of Ben Baker").click()
    expect(page).to_have_url(re.compile(rf"/team/tree/{ben.member_number}$"))
    expect(page.get_by_role("link", name="Cleo Chen")).to_be_visible()
