"""Notifications: every person reads their own mail from the portal, newest first, a page at
a time, from the account menu; nobody sees anyone else's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from portal.mail.queries import Part, body_parts
from portal.mail.services import queue_mail
from tests.conftest import log_in
from tests.factories import make_admin, make_ibo, make_user

PAGE = "/notifications/"


def subjects(markup: str) -> list[str]:
    return re.findall(r"<summary><strong>([^<]+)</strong>", markup)


@pytest.mark.parametrize("maker", [make_user, make_ibo, make_admin], ids=["member", "ibo", "admin"])
def test_everyone_reads_their_own_mail_and_nobody_elses(client, session, clock, maker):
    me, someone = maker(session), make_user(session)
    start = datetime(2026, 11, 1, 15, tzinfo=timezone.utc)
    for n, subject in enumerate(("Order SO1 is paid", "Order SO1 has shipped")):
        clock(start + timedelta(hours=n))
        queue_mail(session, user=me, subject=subject, body=f"Body {n}")
    queue_mail(session, user=someone, subject="Someone else's card expires", body="secret")
    session.commit()
    log_in(client, me)
    response = client.get(PAGE)
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert subjects(markup) == ["Order SO1 has shipped", "Order SO1 is paid"]  # newest first
    assert "secret" not in markup and "Someone else" not in markup
    assert f'href="{PAGE}"' in markup  # in the account menu


def test_an_empty_list_says_what_will_come(client, session):
    log_in(client, make_user(session))
    assert "Nothing yet." in client.get(PAGE).get_data(as_text=True)


def test_the_list_is_paged(app, client, session, clock):
    me = make_user(session)
    size = app.config["ADMIN_PAGE_SIZE"]
    start = datetime(2026, 11, 1, 15, tzinfo=timezone.utc)
    for n in range(size + 3):
        clock(start + timedelta(minutes=n))
        queue_mail(session, user=me, subject=f"Notice {n:03d}", body="")
    session.commit()
    log_in(client, me)
    first = client.get(PAGE).get_data(as_text=True)
    assert subjects(first)[0] == f"Notice {size + 2:03d}" and len(subjects(first)) == size
    assert "Page 1 of 2" in first and 'rel="next"' in first
    second = client.get(f"{PAGE}?page=2").get_data(as_text=True)
    assert subjects(second) == ["Notice 002", "Notice 001", "Notice 000"]
    assert subjects(client.get(f"{PAGE}?page=abc").get_data(as_text=True)) == subjects(first)


def test_links_in_a_message_are_links_and_everything_else_is_text(client, session):
    me = make_user(session)
    queue_mail(session, user=me, subject="Your card expires",
               body="Change it <b>now</b>: http://portal.test/autoship/4?change=card#delivery.\nThanks")
    session.commit()
    log_in(client, me)
    markup = client.get(PAGE).get_data(as_text=True)
    assert '<a href="http://portal.test/autoship/4?change=card#delivery" rel="noopener noreferrer">' in markup
    assert "&lt;b&gt;now&lt;/b&gt;" in markup and "<b>now</b>" not in markup


def test_an_htmx_page_change_gets_the_list_alone(app, session):
    me = make_user(session)
    queue_mail(session, user=me, subject="Hello", body="")
    session.commit()
    client = app.test_client()
    log_in(client, me)
    response = client.get(PAGE, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert "Hello" in response.get_data(as_text=True)


def test_body_parts_cut_links_without_their_full_stop():
    assert body_parts("See https://a.example/x?y=1. Or not") == [
        Part("See ", False), Part("https://a.example/x?y=1", True), Part(". Or not", False)]
    assert body_parts("javascript:alert(1) and ftp://x") == [Part("javascript:alert(1) and ftp://x", False)]
