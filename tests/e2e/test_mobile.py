"""On a phone (390 x 844 CSS pixels): every page of the accessibility tour fits the screen's
width, so nothing but a table inside its own scrolling region ever scrolls sideways, and the
main navigation folds behind a menu button that works without JavaScript."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import axe_violations, describe, failing
from tests.e2e.conftest import hand_over, log_in, menu
from tests.e2e.test_accessibility import start_tour
from tests.factories import make_ibo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# What sticks out past the right edge of the screen, for the failure message: the outermost
# elements whose box ends beyond the viewport and that no scrolling region of theirs clips.
OVERFLOWING = """(limit) => {
    const clipped = (el) => {
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
            if (getComputedStyle(up).overflowX !== 'visible') return true;
        }
        return false;
    };
    const wide = [...document.querySelectorAll('body *')].filter(
        (el) => el.getBoundingClientRect().right > limit + 0.5 && !clipped(el));
    return wide.filter((el) => !wide.includes(el.parentElement)).slice(0, 5).map((el) =>
        `<${el.tagName.toLowerCase()}${el.className ? ' class="' + el.className + '"' : ''}>`
        + ` ends at ${Math.round(el.getBoundingClientRect().right)}px`);
}"""


@pytest.mark.parametrize("who", ["anonymous", "member", "ibo", "admin", "support", "acting"])
def test_no_page_of_the_tour_is_wider_than_a_phone(who, session, redis, new_context, live_server,
                                                   shoot):
    page, visits = start_tour(who, session, redis, new_context, live_server, viewport=PHONE)
    too_wide = []
    for name, url, status in visits:
        response = page.goto(url)
        assert response.status == status, f"{name} ({url}): HTTP {response.status}"
        shoot(page, name)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            culprits = page.evaluate(OVERFLOWING, PHONE["width"])
            too_wide.append(f"{name} ({url}): {width}px wide; " + "; ".join(culprits))
        # What scrolls sideways instead (a wide table) can be reached and scrolled by keyboard.
        if stuck := failing(axe_violations(page, rules=["scrollable-region-focusable"])):
            too_wide.append(f"{name} ({url}): a scrolling region the keyboard cannot reach:\n"
                            + describe(stuck))
    assert not too_wide, (f"{len(too_wide)} of {len(visits)} pages as {who} scroll sideways at "
                          f"{PHONE['width']}px:\n" + "\n".join(too_wide))


def test_the_menu_folds_behind_a_button_on_a_phone_and_opens_by_keyboard(session, new_context,
                                                                         shoot):
    ida = make_ibo(session, first_name="Ida", root=True)
    hand_over(session)
    page = new_context(viewport=PHONE).new_page()
    log_in(page, ida)
    button = page.get_by_role("navigation", name="Main").get_by_text("Menu", exact=True)

    expect(button).to_be_visible()
    expect(menu(page, "Orders")).to_be_hidden()
    shoot(page, "closed")
    header = page.locator(".site-header").bounding_box()
    assert header["height"] < PHONE["height"] / 8, f"the closed menu takes {header['height']}px"

    button.focus()
    page.keyboard.press("Enter")
    expect(menu(page, "Orders")).to_be_visible()
    shoot(page, "open")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.keyboard.press("Tab")
    expect(menu(page, "Shop")).to_be_focused()
    menu(page, "Orders").click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    expect(menu(page, "Orders")).to_be_hidden()  # a new page starts with the menu folded


def test_the_menu_opens_without_javascript(session, new_context):
    ida = make_ibo(session, first_name="Ida", root=True)
    hand_over(session)
    page = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    log_in(page, ida)
    page.get_by_role("navigation", name="Main").get_by_text("Menu", exact=True).click()
    expect(menu(page, "Your team")).to_be_visible()


def test_a_wide_screen_shows_the_menu_without_a_button(session, new_context):
    ida = make_ibo(session, first_name="Ida", root=True)
    hand_over(session)
    page = new_context(viewport=DESKTOP).new_page()
    log_in(page, ida)
    expect(page.get_by_role("navigation", name="Main").get_by_text("Menu", exact=True)).to_be_hidden()
    for name in ("Shop", "Orders", "Autoship", "Your team", "Wallet"):
        expect(menu(page, name)).to_be_visible()

