"""Sessions: a fresh, expiring session on every login, cookie flags per config, "keep me logged
in", logging out (which ends the session on the server, copies of its cookies included), the
list of signed-in devices, and logging out everywhere (every device, this one included)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select

from portal.accounts.models import LoginSession
from portal.accounts.passwords import verify_password
from portal.config import Config, DevelopmentConfig
from portal.clock import utcnow
from tests.accounts.web import follow, new_browser
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
        login_id, _, token = after["_user_id"].partition(":")
    signed_in = session.get(LoginSession, int(login_id))
    assert signed_in.user_id == person.id and len(token) >= 43  # a session on the server


def test_the_session_cookie_expires_after_the_configured_lifetime(client, session):
    person = make_user(session)
    response = client.post("/login", data={"email": person.email, "password": PASSWORD,
                                           "csrf_token": csrf_token(client)})

    cookie = set_cookies(response)["session"]
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    lifetime = timedelta(seconds=client.application.config["PERMANENT_SESSION_LIFETIME"])
    assert abs(expires - (utcnow() + lifetime)) < timedelta(minutes=1)
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
    refused = client.post("/account/logout-everywhere")
    assert refused.status_code == 400
    assert "This form has expired or was not sent from this site." in refused.get_data(as_text=True)

    assert client.get("/home").status_code == 200
    session.refresh(person)
    assert person.session_generation == generation


def test_logging_out_everywhere_needs_a_login(client):
    response = post_form(client, "/account/logout-everywhere", page="/login")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- logging out ends the session on the server ---------------------------------------------

FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")


def log_out(client):
    return post_form(client, "/logout", page="/home")


def asks_to_log_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_session_cookie_copied_before_logging_out_opens_nothing_afterwards(client, another_browser,
                                                                               session):
    log_in(client, make_user(session))
    copied = client.get_cookie("session").value

    assert log_out(client).headers["Location"] == "/login"

    another_browser.set_cookie("session", copied)
    assert asks_to_log_in(another_browser.get("/home"))
    assert asks_to_log_in(client.get("/home"))


def test_a_remember_cookie_copied_before_logging_out_opens_nothing_afterwards(client, another_browser,
                                                                                session):
    log_in_remembered(client, make_user(session))
    copied = client.get_cookie("remember_token").value
    another_browser.set_cookie("remember_token", copied)
    assert another_browser.get("/home").status_code == 200  # the copy works while logged in
    another_browser.delete_cookie("session")

    response = log_out(client)

    assert "remember_token=;" in set_cookies(response)["remember_token"]  # deleted in this browser
    assert asks_to_log_in(another_browser.get("/home"))
    fresh = new_browser(client.application)
    fresh.set_cookie("remember_token", copied)
    assert asks_to_log_in(fresh.get("/home"))


def test_logging_out_ends_only_this_browsers_session(client, another_browser, session):
    person = make_user(session)
    log_in(client, person)
    log_in(another_browser, person)

    log_out(client)

    assert asks_to_log_in(client.get("/home"))
    assert another_browser.get("/home").status_code == 200


def test_a_session_past_its_expiry_on_the_server_opens_nothing(client, session):
    person = make_user(session)
    log_in(client, person)
    signed_in = session.scalars(select(LoginSession).where(LoginSession.user_id == person.id)).one()
    signed_in.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()

    assert asks_to_log_in(client.get("/home"))


def test_last_seen_is_written_at_most_every_few_minutes(client, session):
    person = make_user(session)
    log_in(client, person)
    signed_in = session.scalars(select(LoginSession).where(LoginSession.user_id == person.id)).one()
    touch = timedelta(seconds=client.application.config["LOGIN_SESSION_TOUCH_SECONDS"])
    lifetime = timedelta(seconds=client.application.config["PERMANENT_SESSION_LIFETIME"])
    recently = utcnow() - touch / 2
    signed_in.last_seen_at = recently
    session.commit()

    client.get("/home")
    session.refresh(signed_in)
    assert signed_in.last_seen_at == recently  # seen moments ago: nothing written

    long_ago = utcnow() - touch * 2
    signed_in.last_seen_at = long_ago
    session.commit()
    before_request = utcnow()

    assert client.get("/home").status_code == 200
    session.refresh(signed_in)
    assert signed_in.last_seen_at >= before_request
    assert signed_in.expires_at >= before_request + lifetime  # an active session lives on


def test_logging_out_everywhere_ends_every_session_on_the_server(client, another_browser, session):
    person = make_user(session)
    log_in(client, person)
    log_in_remembered(another_browser, person)

    log_out_everywhere(client)

    assert session.scalars(select(LoginSession).where(LoginSession.user_id == person.id)).all() == []


# --- the list of signed-in devices ----------------------------------------------------------

def browser_of(app, user_agent: str):
    browser = new_browser(app)
    browser.environ_base["HTTP_USER_AGENT"] = user_agent
    return browser


def sessions_of(session, person) -> list[LoginSession]:
    session.expire_all()
    return session.scalars(select(LoginSession).where(LoginSession.user_id == person.id)
                           .order_by(LoginSession.id)).all()


def on_a_laptop_and_a_phone(app, session, *, phone_remembered: bool = False):
    """A member logged in on a laptop (Firefox on Linux) and on a phone (Safari on iOS, kept
    logged in when ``phone_remembered``): the person, the two browsers and the phone's session."""
    person = make_user(session)
    laptop, phone = browser_of(app, FIREFOX_ON_LINUX), browser_of(app, SAFARI_ON_IPHONE)
    log_in(laptop, person)
    (log_in_remembered if phone_remembered else log_in)(phone, person)
    return person, laptop, phone, sessions_of(session, person)[1]


def test_the_account_page_lists_where_one_is_signed_in(app, session):
    person, laptop, _, _ = on_a_laptop_and_a_phone(app, session, phone_remembered=True)

    page = laptop.get("/account/password").get_data(as_text=True)

    assert "Signed in on 2 devices." in page
    assert "Firefox on Linux <strong>(this device)</strong>" in page
    assert "Safari on iOS" in page and "Kept logged in" in page
    phone_session = sessions_of(session, person)[1]
    assert f'action="/account/sessions/{phone_session.id}/end"' in page
    laptop_session = sessions_of(session, person)[0]
    assert f'action="/account/sessions/{laptop_session.id}/end"' not in page  # that is Log out


def test_ending_a_session_from_the_list_logs_that_device_out(app, session):
    _, laptop, phone, phone_session = on_a_laptop_and_a_phone(app, session, phone_remembered=True)

    response = post_form(laptop, f"/account/sessions/{phone_session.id}/end", page="/account/password")

    assert response.status_code == 303 and response.headers["Location"] == "/account/password"
    page = follow(laptop, response)[0].get_data(as_text=True)
    assert "The session on Safari on iOS has ended: that browser must log in again." in page
    assert "Signed in on 1 device." in page
    assert asks_to_log_in(phone.get("/home"))
    phone.delete_cookie("session")  # the remember cookie alone opens nothing either
    assert asks_to_log_in(phone.get("/home"))
    assert laptop.get("/home").status_code == 200


def test_ending_a_session_with_htmx_answers_the_list_again(app, session):
    _, laptop, phone, phone_session = on_a_laptop_and_a_phone(app, session)

    response = laptop.post(f"/account/sessions/{phone_session.id}/end",
                           headers={"HX-Request": "true",
                                    "X-CSRFToken": csrf_token(laptop, "/account/password")})

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and fragment.startswith('<section id="signed-in-sessions"')
    assert "The session on Safari on iOS has ended" in fragment
    assert "Signed in on 1 device." in fragment
    assert asks_to_log_in(phone.get("/home"))


def test_ending_this_devices_own_session_is_logging_out(client, session):
    person = make_user(session)
    log_in(client, person)
    this = sessions_of(session, person)[0]

    response = post_form(client, f"/account/sessions/{this.id}/end", page="/account/password")

    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert sessions_of(session, person) == []
    assert asks_to_log_in(client.get("/home"))


@pytest.mark.parametrize("make", [make_user, make_ibo, make_admin])
def test_another_persons_session_is_not_found_and_keeps_working(client, another_browser, session, make):
    log_in(client, make(session))
    owner = make_user(session)
    log_in(another_browser, owner)
    theirs = sessions_of(session, owner)[0]

    response = post_form(client, f"/account/sessions/{theirs.id}/end", page="/account/password")

    assert response.status_code == 404
    assert "We could not find that session" in response.get_data(as_text=True)
    assert another_browser.get("/home").status_code == 200
    assert sessions_of(session, owner) == [theirs]


def test_ending_a_session_twice_finds_it_gone_the_second_time(app, session):
    _, laptop, _, phone_session = on_a_laptop_and_a_phone(app, session)
    url = f"/account/sessions/{phone_session.id}/end"

    assert post_form(laptop, url, page="/account/password").status_code == 303
    again = post_form(laptop, url, page="/account/password")

    assert again.status_code == 404
    assert "We could not find that session" in again.get_data(as_text=True)
    assert laptop.get("/home").status_code == 200


def test_ending_a_session_takes_a_post_with_a_csrf_token(app, session):
    _, laptop, phone, phone_session = on_a_laptop_and_a_phone(app, session)
    url = f"/account/sessions/{phone_session.id}/end"

    assert laptop.get(url).status_code == 405
    refused = laptop.post(url)
    assert refused.status_code == 400
    assert "This form has expired or was not sent from this site." in refused.get_data(as_text=True)
    assert phone.get("/home").status_code == 200


def test_changing_the_password_keeps_this_device_kept_logged_in(client, another_browser, session):
    person = make_user(session)
    log_in_remembered(client, person)
    log_in(another_browser, person)

    post_form(client, "/account/password", {"current": PASSWORD, "new": "a different passphrase",
                                            "confirm": "a different passphrase"},
              page="/account/password")

    remaining = sessions_of(session, person)
    assert len(remaining) == 1 and remaining[0].remember
    assert asks_to_log_in(another_browser.get("/home"))
    client.delete_cookie("session")
    assert client.get("/home").status_code == 200  # the new remember cookie carries on
