"""Failed htmx requests in a real Chromium against a real server: the person sees the message
in the page's error region (a server error page, any 5xx, an unreachable server), can dismiss
it, and a refusal a view renders itself still shows beside its form."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD, make_product, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_failed_htmx_requests_show_their_message(new_context, live_server, session):
    make_user(session, email="pat@example.test")
    product_id = make_product(session, name="Green Tea").id
    session.commit()
    session.close()
    context = new_context()
    page = context.new_page()
    script_errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and script_errors.append(message.text))

    page.goto(f"{live_server}/login")
    page.fill("#email", "pat@example.test")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server}/home")
    page.goto(f"{live_server}/shop/products/{product_id}")
    region = page.locator("#htmx-error")
    add = page.get_by_role("button", name="Add to cart")

    # A refusal the view renders itself stays beside its form.
    page.fill("#quantity", "0")
    add.click()
    page.locator("#add-result .error-box").wait_for()
    assert region.inner_text() == ""

    # An error page from the server (here: the session ended, so the form's token is stale)
    # goes to the error region, not into the form's result.
    context.clear_cookies()
    page.fill("#quantity", "1")
    add.click()
    region.locator(".error-box").wait_for()
    assert "This form has expired" in region.inner_text()
    assert "expired" not in page.inner_text("#add-result")
    region.get_by_role("button", name="Dismiss").click()
    assert region.inner_text() == ""

    # Any 5xx, even one that is not ours (a proxy's), is shown there too.
    page.route("**/cart/add", lambda route: route.fulfill(
        status=502, content_type="text/html", body="<p>Bad gateway (from the proxy)</p>"))
    add.click()
    region.get_by_text("Bad gateway (from the proxy)").wait_for()

    # A server that cannot be reached at all: the person is told, and a new try clears it.
    page.unroute("**/cart/add")
    page.route("**/cart/add", lambda route: route.abort())
    add.click()
    region.get_by_text("We could not reach the server").wait_for()

    assert not [e for e in script_errors if "Content Security Policy" in e or "Refused" in e]
