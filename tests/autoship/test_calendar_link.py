"""The calendar link lives on the standing-orders page: its state after any reload, the link
itself once (right after it is made: only its hash is kept), replace and turn off asking first."""

import re
from datetime import datetime, timezone

from sqlalchemy import select

from portal.autoship.models import CalendarFeed
from tests.confirmation_pages import confirmation_form
from tests.conftest import page_text, post_form

LINK = re.compile(r'id="calendar-link" type="text" value="(http://[^"]+/autoship/calendar/[A-Za-z0-9_-]+\.ics)" readonly')


def calendar_section(markup: str) -> str:
    return page_text(re.search(r'<article id="calendar".*?</article>', markup, re.S).group(0))


def test_without_a_link_the_page_says_so_and_offers_one(client, shopper):
    section = calendar_section(client.get("/autoship/").get_data(as_text=True))
    assert "Status: no link" in section and "Get a calendar link" in section
    assert "Replace the link" not in section


def test_a_new_link_is_shown_once_then_the_page_says_since_when_it_is_active(client, session, shopper, clock):
    clock(datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc))
    response = post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/")
    assert response.status_code == 303 and response.headers["Location"] == "/autoship/#calendar"

    first = client.get("/autoship/").get_data(as_text=True)
    link = LINK.search(first).group(1)
    assert 'data-copy-from="calendar-link" hidden>Copy link</button>' in first  # shown by its script
    assert "Status: active since November 22, 2026" in calendar_section(first)
    anonymous = client.application.test_client()
    assert anonymous.get(link.removeprefix("http://localhost")).status_code == 200

    reloaded = client.get("/autoship/").get_data(as_text=True)
    section = calendar_section(reloaded)
    assert LINK.search(reloaded) is None and "/autoship/calendar/" not in reloaded
    assert "Status: active since November 22, 2026" in section
    assert "Replace the link" in section and "Turn the link off" in section
    stored = session.scalar(select(CalendarFeed))
    assert link.rsplit("/", 1)[1].removesuffix(".ics") not in stored.token_hash  # only its hash is kept


def test_replacing_the_link_asks_first_and_then_the_old_link_stops(client, session, shopper):
    post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/")
    old = LINK.search(client.get("/autoship/").get_data(as_text=True)).group(1).removeprefix("http://localhost")
    anonymous = client.application.test_client()

    asked = post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/")

    assert asked.status_code == 200
    text = page_text(asked.get_data(as_text=True))
    assert "Replace your calendar link?" in text and "stops working" in text
    assert "Yes, make a new link" in text and "No, keep my link" in text
    assert anonymous.get(old).status_code == 200  # nothing changed yet

    action, fields = confirmation_form(asked.get_data(as_text=True))
    assert client.post(action, data=fields).status_code == 303
    new = LINK.search(client.get("/autoship/").get_data(as_text=True)).group(1).removeprefix("http://localhost")
    assert new != old
    assert anonymous.get(old).status_code == 404 and anonymous.get(new).status_code == 200


def test_turning_the_link_off_asks_first(client, session, shopper):
    post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/")
    link = LINK.search(client.get("/autoship/").get_data(as_text=True)).group(1).removeprefix("http://localhost")
    anonymous = client.application.test_client()

    asked = post_form(client, "/autoship/calendar", {"action": "revoke"}, page="/autoship/")
    assert asked.status_code == 200 and "Turn your calendar link off?" in page_text(asked.get_data(as_text=True))
    assert anonymous.get(link).status_code == 200

    action, fields = confirmation_form(asked.get_data(as_text=True))
    assert client.post(action, data=fields).status_code == 303
    assert anonymous.get(link).status_code == 404
    assert "Status: no link" in calendar_section(client.get("/autoship/").get_data(as_text=True))


def test_with_htmx_the_section_is_answered_in_place_with_the_new_link(client, shopper):
    response = post_form(client, "/autoship/calendar", {"action": "issue"}, page="/autoship/",
                         headers={"HX-Request": "true"})
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert '<article id="calendar"' in markup and "<html" not in markup  # the section alone
    assert LINK.search(markup) and "Your new calendar link is ready." in calendar_section(markup)
    page = client.get("/autoship/").get_data(as_text=True)
    buttons = re.findall(r'<form[^>]*hx-confirm="([^"]+)"[^>]*hx-vals=\'\{"confirm": "yes"\}\'', page)
    assert buttons == ["Replace your calendar link? The one you have now stops working.",
                       "Turn your calendar link off? Calendars subscribed with it stop showing your shipments."]
