"""Sessions: a fresh, expiring session on every login, cookie flags per config, "keep me logged
in", and logging out everywhere (every device, this one included)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest

from portal.accounts.passwords import verify_password
from portal.config import Config, DevelopmentConfig
from tests.accounts.web import follow
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import PASSWORD, make_admin, make_ibo, make_user


def set_cookies(response) -> dict[str, str]:
    """name -> the whole Set-Cookie header, for each cookie this response sets."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def log_in_remembered(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y",
                                       "csrf_token": csrf_token(client)})


def log_out_everywhere(client):
    return post_form(client, "/account/logout-everywhere", page="/account/password")


# --- logging in -----------------------------------------------------------------------------

def test_logging_in_starts_a_fresh_session(client, session):
    person = make_user(session)
    client.get("/login")
    with client.session_transaction() as planted:
        planted["planted_by_someone_else"] = "fixation"
        before = dict(planted)

    log_in(client, person)

    with client.session_transaction() as after:
        assert "planted_by_someone_else" not in after
        assert after.get("csrf_token") != before["csrf_token"]  # the old token is gone too
        assert after["_user_id"] == f"{person.id}:{person.session_generation}"


def test_the_session_cookie_expires_after_the_configured_lifetime(client, session):
    person = make_user(session)
    response = client.post("/login", data={"email": person.email, "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})

    cookie = set_cookies(response)["session"]
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = timedelta(seconds=client.application.config["PERMANENT_SESSION_LIFETIME"])
    assert abs(expires - (datetime.now(timezone.utc) + lifetime)) < timedelta(minutes=1)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_secure_where_the_config_says_so(client, session, monkeypatch):
    assert Config.SESSION_COOKIE_SECURE and Config.REMEMBER_COOKIE_SECURE  # production
    assert not DevelopmentConfig.SESSION_COOKIE_SECURE  # plain http on 127.0.0.1
    monkeypatch.setitem(client.application.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(client.application.config, "REMEMBER_COOKIE_SECURE", True)

    cookies = set_cookies(log_in_remembered(client, make_user(session)))

    assert "Secure" in cookies["session"]
    assert "Secure" in cookies["remember_token"] and "HttpOnly" in cookies["remember_token"]


# --- keep me logged in ----------------------------------------------------------------------

def test_keep_me_logged_in_outlives_the_session_cookie(client, session):
    log_in_remembered(client, make_user(session))
    client.delete_cookie("session")

    assert client.get("/home").status_code == 200


def test_without_keep_me_logged_in_losing_the_session_cookie_logs_out(client, session):
    log_in(client, make_user(session))
    client.delete_cookie("session")

    assert client.get("/home").status_code == 302


# --- logging out everywhere -----------------------------------------------------------------

def test_logging_out_everywhere_ends_every_session_this_one_included(client, another_browser, session):
    person = make_user(session)
    log_in(client, person)
    log_in(another_browser, person)
    generation = person.session_generation

    response = log_out_everywhere(client)

    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "You are logged out on every device" in follow(client, response)[0].get_data(as_text=True)
    assert client.get("/home").status_code == 302
    assert another_browser.get("/home").status_code == 302
    session.refresh(person)
    assert person.session_generation == generation + 1
    assert verify_password(person.password_hash, PASSWORD)  # the password stays
    log_in(client, person)  # and works


def test_logging_out_everywhere_also_ends_keep_me_logged_in(client, another_browser, session):
    person = make_user(session)
    log_in_remembered(another_browser, person)
    another_browser.delete_cookie("session")
    assert another_browser.get("/home").status_code == 200  # carried by the remember cookie

    log_in(client, person)
    log_out_everywhere(client)

    assert another_browser.get("/home").status_code == 302


def test_logging_out_everywhere_leaves_other_people_logged_in(client, another_browser, session):
    log_in(client, make_user(session))
    log_in(another_browser, make_user(session))
    log_out_everywhere(client)
    assert another_browser.get("/home").status_code == 200


def test_the_password_page_offers_it(client, session):
    log_in(client, make_user(session))
    page = client.get("/account/password").get_data(as_text=True)
    assert 'action="/account/logout-everywhere"' in page
    assert "Log out everywhere" in page


@pytest.mark.parametrize("make", [make_user, make_ibo, make_admin])
def test_every_role_can_log_out_everywhere(client, session, make):
    log_in(client, make(session))
    assert log_out_everywhere(client).status_code == 303
    assert client.get("/account/password").status_code == 302


def test_logging_out_everywhere_takes_a_post_with_a_csrf_token(client, session):
    person = make_user(session)
    log_in(client, person)
    generation = person.session_generation

    assert client.get("/account/logout-everywhere").status_code == 405
    assert client.post("/account/logout-everywhere").status_code == 400

    assert client.get("/home").status_code == 200
    session.refresh(person)
    assert person.session_generation == generation


def test_logging_out_everywhere_needs_a_login(client):
    response = post_form(client, "/account/logout-everywhere", page="/login")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
