"""Rate limits on logging in, joining and asking for a password reset: per client IP and per
account (the email typed), only on POST, counted in the portal's Redis, answered with a 429,
a Retry-After and a message in the portal's look; nothing happens behind a refused attempt."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.mail.models import OutboxMessage
from tests.conftest import csrf_token
from tests.factories import PASSWORD, make_ibo, make_user

TOO_MANY = "Too many attempts. Try again in 1 minute."


def from_ip(address: str) -> dict:
    return {"environ_overrides": {"REMOTE_ADDR": address}}


def attempt_login(client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_token(client)}, **from_ip(ip))


def attempt_registration(client, sponsor_number: str, email: str, ip: str = "10.0.0.1"):
    data = {"sponsor": sponsor_number, "first_name": "Nora", "last_name": "Newcomer",
            "email": email, "password": "plenty of letters", "confirm": "plenty of letters",
            "role": "member", "csrf_token": csrf_token(client, "/register")}
    return client.post("/register", data=data, **from_ip(ip))


def ask_for_reset(client, email: str, ip: str = "10.0.0.1"):
    return client.post("/password/forgot",
                       data={"email": email, "csrf_token": csrf_token(client, "/password/forgot")},
                       **from_ip(ip))


def logged_in(client) -> bool:
    return client.get("/home").status_code == 200


def refused_as_too_many(response) -> bool:
    return (response.status_code == 429 and TOO_MANY in response.get_data(as_text=True)
            and 1 <= int(response.headers["Retry-After"]) <= 60)


def users(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def mails(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage))


# --- logging in -----------------------------------------------------------------------------

def test_one_ip_gets_ten_logins_a_minute_then_a_429_even_with_the_right_password(client, session):
    person = make_user(session, email="pat@example.test")
    for n in range(10):  # ten different accounts: the per-account limit never applies
        assert attempt_login(client, f"guess{n}@example.test", "not it").status_code == 422

    refused = attempt_login(client, person.email, PASSWORD)

    assert refused_as_too_many(refused)
    assert "<html" in refused.get_data(as_text=True) and 'class="site-header"' in refused.get_data(as_text=True)
    assert not logged_in(client)
    assert attempt_login(client, person.email, PASSWORD, ip="10.0.0.2").status_code == 303


def test_one_account_gets_five_logins_a_minute_from_anywhere(client, session):
    person = make_user(session, email="pat@example.test")
    for n in range(5):
        assert attempt_login(client, "PAT@example.test ", "not it", ip=f"10.0.1.{n}").status_code == 422

    refused = attempt_login(client, person.email, PASSWORD, ip="10.0.1.99")

    assert refused_as_too_many(refused)
    assert not logged_in(client)


def test_another_account_from_the_same_ip_still_logs_in(client, session):
    make_user(session, email="pat@example.test")
    kim = make_user(session, email="kim@example.test")
    for _ in range(5):
        attempt_login(client, "pat@example.test", "not it")
    assert attempt_login(client, "pat@example.test", PASSWORD).status_code == 429

    assert attempt_login(client, kim.email, PASSWORD).status_code == 303
    assert logged_in(client)


def test_the_hourly_limit_holds_after_the_minute(client, session, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATE_LIMIT_LOGIN_PER_ACCOUNT",
                        "100 per minute; 3 per hour")
    person = make_user(session, email="pat@example.test")
    for n in range(3):
        attempt_login(client, person.email, "not it", ip=f"10.0.2.{n}")

    refused = attempt_login(client, person.email, PASSWORD, ip="10.0.2.99")

    assert refused.status_code == 429
    assert 60 < int(refused.headers["Retry-After"]) <= 3600
    assert "Try again in 60 minutes." in refused.get_data(as_text=True)


def test_a_limit_lets_attempts_through_again_once_its_window_is_over(client, session, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATE_LIMIT_LOGIN_PER_ACCOUNT", "2 per 2 seconds")
    person = make_user(session, email="pat@example.test")
    attempt_login(client, person.email, "not it")
    attempt_login(client, person.email, "not it")
    refused = attempt_login(client, person.email, PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 2

    # The window lives in Redis and passes in real time; Retry-After is whole seconds, rounded
    # down, so wait one more to be past it however slowly this machine answered.
    time.sleep(int(refused.headers["Retry-After"]) + 1)

    assert attempt_login(client, person.email, PASSWORD).status_code == 303


def test_only_posts_count(client, session):
    for _ in range(30):
        assert client.get("/login", **from_ip("10.0.3.1")).status_code == 200
    make_user(session, email="pat@example.test")
    assert attempt_login(client, "pat@example.test", PASSWORD, ip="10.0.3.1").status_code == 303


def test_the_counts_live_in_redis(client, session, redis):
    attempt_login(client, "pat@example.test", "not it")
    keys = [key.decode() for key in redis.keys("*")]
    assert any("login-ip" in key and "10.0.0.1" in key for key in keys)
    assert any("login-account" in key for key in keys)
    assert not any("pat@example.test" in key for key in keys)  # addresses are hashed


def test_an_htmx_request_over_the_limit_gets_the_fragment(htmx, session, monkeypatch):
    monkeypatch.setitem(htmx.application.config, "RATE_LIMIT_LOGIN_PER_IP", "1 per minute")
    attempt_login(htmx, "pat@example.test", "not it")

    refused = attempt_login(htmx, "pat@example.test", "not it")

    assert refused.status_code == 429 and refused.headers["Retry-After"]
    page = refused.get_data(as_text=True)
    assert TOO_MANY in page and "<html" not in page
    assert refused.headers["HX-Retarget"] == "#htmx-error"


# --- joining --------------------------------------------------------------------------------

def test_one_ip_gets_ten_registrations_a_minute(client, session):
    sponsor = make_ibo(session)
    for n in range(10):
        assert attempt_registration(client, "99999999", f"n{n}@example.com").status_code == 422
    before = users(session)

    refused = attempt_registration(client, sponsor.member_number, "nora@example.com")

    assert refused_as_too_many(refused)
    assert users(session) == before and not logged_in(client)
    assert attempt_registration(client, sponsor.member_number, "nora@example.com",
                                ip="10.0.0.2").status_code == 303


def test_one_address_gets_five_registrations_a_minute_from_anywhere(client, session):
    sponsor = make_ibo(session)
    for n in range(5):
        attempt_registration(client, "99999999", "Nora@Example.com", ip=f"10.0.4.{n}")
    before = users(session)

    refused = attempt_registration(client, sponsor.member_number, "nora@example.com", ip="10.0.4.99")

    assert refused_as_too_many(refused)
    assert users(session) == before
    assert attempt_registration(client, sponsor.member_number, "other@example.com",
                                ip="10.0.4.99").status_code == 303


# --- asking for a password reset --------------------------------------------------------------

def test_one_ip_gets_five_reset_requests_a_minute(client, session):
    person = make_user(session, email="pat@example.test")
    for n in range(5):
        assert ask_for_reset(client, f"n{n}@example.test").status_code == 303

    refused = ask_for_reset(client, person.email)

    assert refused_as_too_many(refused)
    assert mails(session) == 0


def test_one_account_gets_three_reset_mails_a_minute_from_anywhere(client, session):
    person = make_user(session, email="pat@example.test")
    for n in range(3):
        assert ask_for_reset(client, person.email, ip=f"10.0.5.{n}").status_code == 303
    assert mails(session) == 3

    refused = ask_for_reset(client, "PAT@example.test", ip="10.0.5.99")

    assert refused_as_too_many(refused)
    assert mails(session) == 3


def test_choosing_a_new_password_through_links_is_limited_per_ip(client, session, monkeypatch):
    monkeypatch.setitem(client.application.config, "RATE_LIMIT_PASSWORD_RESET_PER_IP", "2 per minute")
    token = csrf_token(client, "/password/forgot")
    for _ in range(2):
        answer = client.post("/password/reset/not-a-token", data={"csrf_token": token},
                             **from_ip("10.0.6.1"))
        assert answer.status_code == 400

    refused = client.post("/password/reset/not-a-token", data={"csrf_token": token},
                          **from_ip("10.0.6.1"))

    assert refused_as_too_many(refused)


@pytest.mark.parametrize("setting", ["RATE_LIMIT_LOGIN_PER_IP", "RATE_LIMIT_LOGIN_PER_ACCOUNT",
                                     "RATE_LIMIT_REGISTER_PER_IP", "RATE_LIMIT_REGISTER_PER_ACCOUNT",
                                     "RATE_LIMIT_PASSWORD_RESET_PER_IP",
                                     "RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT"])
def test_every_limit_has_a_minute_and_an_hour_default(app, setting):
    from portal.config import Config
    assert getattr(Config, setting) == app.config[setting]
    assert "per minute" in getattr(Config, setting) and "per hour" in getattr(Config, setting)
