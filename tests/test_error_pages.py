"""Error pages: every HTTP error answers in the portal's look, as a whole page, or for htmx as a
fragment sent to the page's error region, with the headers its status needs."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token, log_in
from tests.factories import make_product, make_user

MIB = 1024 * 1024


def bad_request(client, session, monkeypatch):
    return client.post("/login", data={"email": "pat@example.test", "password": "x"})  # no CSRF token


def forbidden(client, session, monkeypatch):
    log_in(client, make_user(session))
    return client.get("/admin/")


def not_found(client, session, monkeypatch):
    return client.get("/no-such-page")


def method_not_allowed(client, session, monkeypatch):
    return client.get("/logout")


def too_large(client, session, monkeypatch):
    return client.post("/login", data=b"email=" + b"x" * (3 * MIB),
                       content_type="application/x-www-form-urlencoded")


def too_many(client, session, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATE_LIMIT_LOGIN_PER_IP", "1 per minute")
    token = csrf_token(client)
    client.post("/login", data={"email": "pat@example.test", "password": "x", "csrf_token": token})
    return client.post("/login", data={"email": "pat@example.test", "password": "x",
                                       "csrf_token": token})


def server_error(client, session, monkeypatch):
    def broken_view():
        raise RuntimeError("a bug")
    monkeypatch.setitem(client.application.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(client.application.view_functions, "home.index", broken_view)
    return client.get("/")


ERRORS = [  # status, how to cause it, what the person reads
    (400, bad_request, "This form has expired or was not sent from this site."),
    (403, forbidden, "Your account cannot use this page."),
    (404, not_found, "Not found"),
    (405, method_not_allowed, "Method not allowed"),
    (413, too_large, "What you sent is larger than the 2 MiB we accept."),
    (429, too_many, "Too many attempts. Try again in 1 minute."),
    (500, server_error, "We could not finish that request."),
]


@pytest.mark.parametrize("status, cause, message", ERRORS, ids=[str(e[0]) for e in ERRORS])
def test_every_error_is_a_page_in_the_portal_look(client, session, monkeypatch, status, cause, message):
    response = cause(client, session, monkeypatch)

    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert page.startswith("<!doctype html>")
    assert '<header class="site-header">' in page and 'class="error-box"' in page
    assert message in page
    assert f"({status})" in page
    assert "HX-Retarget" not in response.headers
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in page  # no inline script, only <script src=...>


@pytest.mark.parametrize("status, cause, message", ERRORS, ids=[str(e[0]) for e in ERRORS])
def test_every_error_is_a_fragment_for_htmx_sent_to_the_error_region(htmx, session, monkeypatch,
                                                                     status, cause, message):
    response = cause(htmx, session, monkeypatch)

    assert response.status_code == status
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<article class="error-box">')
    assert '<p role="alert">' in fragment  # announced: the message, not its article
    assert "<html" not in fragment and "site-header" not in fragment
    assert message in fragment
    assert "data-dismiss-error" in fragment
    assert response.headers["HX-Retarget"] == "#htmx-error"
    assert response.headers["HX-Reswap"] == "innerHTML"
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("as_htmx", [False, True])
def test_a_405_says_which_methods_are_allowed(client, as_htmx):
    headers = {"HX-Request": "true"} if as_htmx else {}
    response = client.get("/logout", headers=headers)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "The method is not allowed for the requested URL." in response.get_data(as_text=True)


@pytest.mark.parametrize("as_htmx", [False, True])
def test_a_429_says_when_to_try_again(client, session, monkeypatch, as_htmx):
    if as_htmx:
        client.environ_base["HTTP_HX_REQUEST"] = "true"
    response = too_many(client, session, monkeypatch)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "Too many attempts. Try again in 1 minute." in response.get_data(as_text=True)


def test_a_body_over_the_limit_is_refused_before_anything_reads_it(client, session):
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    assert limit == 2 * MIB
    assert limit > client.application.config["INVENTORY_CSV_MAX_BYTES"]  # a full CSV still fits
    response = client.post("/login", data=b"x" * (limit + 1),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "What you sent is larger than the 2 MiB we accept." in response.get_data(as_text=True)


def test_every_page_carries_the_error_region_and_its_script(client):
    page = client.get("/shop/").get_data(as_text=True)
    assert '<div id="htmx-error" class="htmx-error" aria-live="assertive"></div>' in page
    assert re.search(r'<script src="/static/js/htmx-errors\.js\?v=[0-9a-f]{12}" defer></script>', page)
    assert '"code": "5..", "swap": true, "error": true, "target": "#htmx-error"' in page


def test_a_page_that_exists_is_not_an_error(client, session):
    make_product(session, name="Green Tea")
    response = client.get("/shop/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "HX-Retarget" not in response.headers
    fragment = response.get_data(as_text=True)
    assert "Green Tea" in fragment and "error-box" not in fragment and "<html" not in fragment
