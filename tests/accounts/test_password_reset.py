"""Forgotten passwords: a mailed link that is signed, expires, works once and dies with any
password change; the request answers the same whether or not the address has an account."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from portal.accounts.password_reset import (ResetLinkError, ResetLinkExpired, ResetLinkUsed,
                                            make_reset_token, request_password_reset,
                                            reset_password, user_for_reset_token)
from portal.accounts.passwords import verify_password
from portal.accounts.services import PasswordError, change_password
from portal.mail.models import OutboxMessage
from tests.accounts.web import error_beside, follow, form_values, new_browser
from tests.conftest import CSRF_PATTERN, csrf_token, log_in
from tests.factories import PASSWORD, make_user

SECRET = "test-only-not-secret"
NEW_PASSWORD = "a brand new passphrase"
SAME_ANSWER = "If an account exists for that address, we have sent it a link"
LINK = re.compile(r"http://localhost(/password/reset/[\w.-]+)")  # the test client's host


def token_for(user) -> str:
    return make_reset_token(user, secret_key=SECRET)


def outbox(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def ask_for_reset(client, email: str, host: str | None = None):
    """The form opened and sent at ``host`` (the Host header), by default the test client's own."""
    headers = {"Host": host} if host else {}
    form = CSRF_PATTERN.search(client.get("/password/forgot", headers=headers).get_data(as_text=True))
    return client.post("/password/forgot", data={"email": email, "csrf_token": form.group(1) or form.group(2)},
                       headers=headers)


def set_new_password(client, path: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(path, data={"new": new, "confirm": new if confirm is None else confirm,
                                   "csrf_token": csrf_token(client, "/password/forgot")})


def mailed_link(session) -> str:
    return LINK.search(outbox(session)[-1].body).group(1)


# --- the service ----------------------------------------------------------------------------

def test_a_token_names_its_person(session):
    person = make_user(session)
    assert user_for_reset_token(session, token_for(person), secret_key=SECRET,
                                max_age_minutes=60) is person


def test_a_reset_sets_the_password_and_ends_every_session(session):
    person = make_user(session)
    generation = person.session_generation

    reset_password(session, token=token_for(person), new=NEW_PASSWORD, secret_key=SECRET,
                   max_age_minutes=60)

    assert verify_password(person.password_hash, NEW_PASSWORD)
    assert person.session_generation == generation + 1


def test_a_token_works_once(session):
    person = make_user(session)
    token = token_for(person)
    reset_password(session, token=token, new=NEW_PASSWORD, secret_key=SECRET, max_age_minutes=60)

    with pytest.raises(ResetLinkUsed) as refused:
        reset_password(session, token=token, new="yet another passphrase", secret_key=SECRET,
                       max_age_minutes=60)

    assert refused.value.status == 410
    assert verify_password(person.password_hash, NEW_PASSWORD)


def test_a_password_change_kills_the_links_sent_before_it(session):
    person = make_user(session)
    token = token_for(person)
    change_password(session, user=person, current=PASSWORD, new=NEW_PASSWORD)
    with pytest.raises(ResetLinkUsed):
        user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=60)


def test_logging_out_everywhere_kills_the_links_sent_before_it(session):
    from portal.accounts.services import log_out_everywhere
    person = make_user(session)
    token = token_for(person)
    log_out_everywhere(session, user=person)
    with pytest.raises(ResetLinkUsed):
        user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=60)


def test_a_token_expires(session, monkeypatch):
    person = make_user(session)
    with monkeypatch.context() as past:
        an_hour_ago = time.time() - 61 * 60
        past.setattr(time, "time", lambda: an_hour_ago)
        token = token_for(person)

    with pytest.raises(ResetLinkExpired) as refused:
        user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=60)
    assert refused.value.status == 410
    assert user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=90) is person


def payload(token: str):
    return URLSafeTimedSerializer(SECRET, salt="password-reset").loads(token)


@pytest.mark.parametrize("forge", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
    lambda token: token[: len(token) // 2],
    lambda token: "",
    lambda token: "x" * 5000,
    lambda token: URLSafeTimedSerializer("another secret", salt="password-reset").dumps(payload(token)),
    lambda token: URLSafeTimedSerializer(SECRET, salt="cookie-session").dumps(payload(token)),
    lambda token: URLSafeTimedSerializer(SECRET, salt="password-reset").dumps([1, 2]),
    lambda token: URLSafeTimedSerializer(SECRET, salt="password-reset").dumps({"user": "1", "fp": 0}),
], ids=["tampered", "cut short", "empty", "huge", "other key", "other salt", "a list", "wrong types"])
def test_a_forged_token_is_refused(session, forge):
    """Right payload, wrong signature; or right signature, wrong shape."""
    person = make_user(session)
    with pytest.raises(ResetLinkError) as refused:
        user_for_reset_token(session, forge(token_for(person)), secret_key=SECRET, max_age_minutes=60)
    assert refused.value.status == 400


def test_a_token_with_a_made_up_fingerprint_is_refused(session):
    person = make_user(session)
    forged = URLSafeTimedSerializer(SECRET, salt="password-reset").dumps({"user": person.id, "fp": "0"})
    with pytest.raises(ResetLinkUsed):
        user_for_reset_token(session, forged, secret_key=SECRET, max_age_minutes=60)


def test_an_inactive_person_cannot_reset(session):
    person = make_user(session, active=False)
    with pytest.raises(ResetLinkError):
        user_for_reset_token(session, token_for(person), secret_key=SECRET, max_age_minutes=60)
    assert request_password_reset(session, email=person.email, secret_key=SECRET,
                                  link_for=str, max_age_minutes=60, company_name="X") is None


def test_a_weak_new_password_is_refused_and_the_link_still_works(session):
    person = make_user(session)
    token = token_for(person)
    session.commit()
    with pytest.raises(PasswordError):
        reset_password(session, token=token, new="aaaaaaaaaaaa", secret_key=SECRET, max_age_minutes=60)
    session.rollback()
    assert user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=60).id == person.id


def test_the_mail_goes_to_the_account_whatever_the_case_typed(session):
    person = make_user(session, email="pat@example.test", first_name="Pat")
    message = request_password_reset(session, email=" PAT@Example.TEST ", secret_key=SECRET,
                                     link_for=lambda token: f"https://portal.example/r/{token}",
                                     max_age_minutes=45, company_name="Standing Order")
    assert message.recipient == "pat@example.test" and message.user_id == person.id
    assert "Hello Pat" in message.body and "within 45 minutes" in message.body
    token = re.search(r"https://portal\.example/r/(\S+)", message.body).group(1)
    assert user_for_reset_token(session, token, secret_key=SECRET, max_age_minutes=45) is person


def test_nobody_gets_mail_for_an_unknown_address(session):
    assert request_password_reset(session, email="nobody@example.test", secret_key=SECRET,
                                  link_for=str, max_age_minutes=60, company_name="X") is None
    assert outbox(session) == []


# --- over HTTP ------------------------------------------------------------------------------

def test_the_login_page_offers_a_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<a href="/password/forgot">Forgot your password?</a>' in page
    forgot = client.get("/password/forgot")
    assert forgot.status_code == 200
    assert "<h1>Forgot your password?</h1>" in forgot.get_data(as_text=True)
    assert "email" in form_values(forgot)


def test_known_and_unknown_addresses_get_the_same_answer(client, session):
    make_user(session, email="pat@example.test")

    known = ask_for_reset(client, "pat@example.test")
    known_page, _ = follow(client, known)
    unknown = ask_for_reset(client, "zed@example.test")
    unknown_page, _ = follow(client, unknown)

    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    assert SAME_ANSWER in known_page.get_data(as_text=True)
    assert SAME_ANSWER in unknown_page.get_data(as_text=True)
    assert [message.recipient for message in outbox(session)] == ["pat@example.test"]


def test_the_whole_reset_by_mail(client, another_browser, session, app):
    person = make_user(session, email="pat@example.test")
    log_in(another_browser, person)
    ask_for_reset(client, "pat@example.test")
    path = mailed_link(session)
    assert outbox(session)[-1].subject == "Reset your password"

    form = client.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    done = set_new_password(client, path)

    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert "Your password is changed" in follow(client, done)[0].get_data(as_text=True)
    assert client.get("/home").status_code == 302  # not logged in: log in with the new password
    assert another_browser.get("/home").status_code == 302  # every device logged out
    session.refresh(person)
    assert verify_password(person.password_hash, NEW_PASSWORD)
    log_in(new_browser(app), person, NEW_PASSWORD)

    again = client.get(path)
    assert again.status_code == 410
    assert "already been used" in again.get_data(as_text=True)
    assert 'href="/password/forgot"' in again.get_data(as_text=True)
    assert set_new_password(client, path, "and once more please").status_code == 410


def test_an_expired_link_says_so_and_offers_a_new_one(client, session, monkeypatch):
    monkeypatch.setitem(client.application.config, "PASSWORD_RESET_MAX_AGE_MINUTES", 0)
    person = make_user(session)
    with monkeypatch.context() as past:
        a_minute_ago = time.time() - 60
        past.setattr(time, "time", lambda: a_minute_ago)
        token = make_reset_token(person, secret_key=client.application.config["SECRET_KEY"])

    answer = client.get(f"/password/reset/{token}")

    assert answer.status_code == 410
    assert "has expired" in answer.get_data(as_text=True)
    assert 'href="/password/forgot"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("token", ["nonsense", "a.b.c", "x" * 3000, "..", "%E2%98%83"])
def test_a_forged_link_is_a_400_that_offers_a_new_one(client, session, token):
    answer = client.get(f"/password/reset/{token}")
    assert answer.status_code == 400
    assert "This password reset link is not valid." in answer.get_data(as_text=True)
    assert 'href="/password/forgot"' in answer.get_data(as_text=True)


def test_a_forged_link_changes_nothing_when_posted(client, session):
    person = make_user(session)
    before = person.password_hash
    answer = set_new_password(client, "/password/reset/nonsense")
    assert answer.status_code == 400
    assert "This password reset link is not valid." in answer.get_data(as_text=True)
    session.refresh(person)
    assert person.password_hash == before


@pytest.mark.parametrize("new, confirm, field, message", [
    ("short", None, "new", "Use 10 to 256 characters."),
    ("zzzzzzzzzzzz", None, "new", "That password is too easy to guess."),
    (NEW_PASSWORD, "something else", "confirm", "The passwords differ."),
    ("x" * 10_000, None, "new", "Use 10 to 256 characters."),
    ("with a \x00 nul inside", None, "new", "Remove the control characters"),
])
def test_the_new_password_follows_the_usual_rules(client, session, new, confirm, field, message):
    person = make_user(session)
    before = person.password_hash
    path = f"/password/reset/{make_reset_token(person, secret_key=client.application.config['SECRET_KEY'])}"

    answer = set_new_password(client, path, new, confirm)

    assert answer.status_code == 422
    assert message in error_beside(answer, field)
    session.refresh(person)
    assert person.password_hash == before
    again = client.get(path)  # the link still works
    assert again.status_code == 200 and "Choose a new password" in again.get_data(as_text=True)


def test_in_development_the_link_opens_the_portal_the_request_came_to(client, session):
    """``PORT=5091 make run``: the link opens the portal on 5091, not the default port."""
    make_user(session, email="pat@example.test")

    ask_for_reset(client, "pat@example.test", host="127.0.0.1:5091")

    assert re.search(r"http://127\.0\.0\.1:5091/password/reset/[\w.-]+\n", outbox(session)[-1].body)


def test_in_production_the_link_starts_with_base_url_whatever_host_the_request_names(
        client, session, monkeypatch):
    """A forged Host header must not send somebody's reset link to another site."""
    monkeypatch.setitem(client.application.config, "ENV_NAME", "production")
    monkeypatch.setitem(client.application.config, "BASE_URL", "https://portal.example.com/")
    make_user(session, email="pat@example.test")

    ask_for_reset(client, "pat@example.test", host="attacker.example")

    body = outbox(session)[-1].body
    assert "https://portal.example.com/password/reset/" in body and "attacker" not in body


def test_a_bad_address_is_refused_beside_its_field(client, session):
    answer = ask_for_reset(client, "")
    assert answer.status_code == 422
    assert error_beside(answer, "email") == "Enter your email address."
    assert outbox(session) == []


def test_the_reset_forms_need_their_csrf_token(client, session):
    person = make_user(session, email="pat@example.test")
    path = f"/password/reset/{make_reset_token(person, secret_key=client.application.config['SECRET_KEY'])}"
    for refused in (client.post("/password/forgot", data={"email": person.email}),
                    client.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})):
        assert refused.status_code == 400
        assert "This form has expired or was not sent from this site." in refused.get_data(as_text=True)
    assert outbox(session) == []
    session.refresh(person)
    assert verify_password(person.password_hash, PASSWORD)
