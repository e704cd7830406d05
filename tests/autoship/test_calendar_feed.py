"""The standing orders' iCalendar feed reads back as valid RFC 5545, whatever the names hold."""

from datetime import date, datetime, timedelta, timezone

from icalendar import Calendar

from portal.autoship import calendar_tokens, lifecycle
from portal.autoship.calendar_feed import FeedEvent, write_feed
from portal.clock import company_today
from tests.autoship.conftest import new_profile

NOW = datetime(2026, 11, 22, 15, 4, 5, tzinfo=timezone.utc)  # a Sunday morning in Chicago
LONG_NAME = "Vitamins, minerals and omega-3 for the whole family; shipped on the 2nd monthly!"


def events_of(document: str | bytes) -> list:
    return sorted(Calendar.from_ical(document).walk("VEVENT"), key=lambda event: event["DTSTART"].dt)


def overlong_lines(document: bytes) -> list[bytes]:
    return [line for line in document.split(b"\r\n") if len(line) > 75]


def test_a_long_name_with_a_comma_and_a_semicolon_is_served_folded_and_reads_back_whole(
        client, session, member, product, clock):
    clock(NOW)
    assert len(LONG_NAME) == 80 and "," in LONG_NAME and ";" in LONG_NAME
    first = company_today() + timedelta(days=10)
    profile = new_profile(session, member, product, first=first)
    lifecycle.rename(session, user=member, profile=profile, name=LONG_NAME)
    token = calendar_tokens.issue_calendar_token(session, user=member)

    response = client.get(f"/autoship/calendar/{token}.ics")

    assert response.status_code == 200 and response.mimetype == "text/calendar"
    document = response.get_data()
    assert overlong_lines(document) == []
    assert document.endswith(b"END:VCALENDAR\r\n")
    feed = Calendar.from_ical(document)
    assert str(feed["X-WR-CALNAME"]) == "Standing Order autoship"
    events = events_of(document)
    runs = [date(2026, 12, 2)] + [date(2027, month, 2) for month in range(1, 12)]  # a year ahead
    assert first == runs[0]
    assert [event["DTSTART"].dt for event in events] == runs
    assert [event["DTEND"].dt for event in events] == [run + timedelta(days=1) for run in runs]
    assert {str(event["SUMMARY"]) for event in events} == {f"Autoship: {LONG_NAME}"}
    assert {str(event["DESCRIPTION"]) for event in events} == {"1 item(s) ship on this day."}
    assert {event["DTSTAMP"].dt for event in events} == {NOW}
    assert [str(event["UID"]) for event in events] == [
        f"autoship-{profile.id}-{run:%Y%m%d}@standing-order" for run in runs]


def test_the_same_runs_keep_their_uids_from_one_fetch_to_the_next(client, session, member, product, clock):
    clock(NOW)
    new_profile(session, member, product, first=company_today() + timedelta(days=10))
    token = calendar_tokens.issue_calendar_token(session, user=member)
    before = [str(event["UID"]) for event in events_of(client.get(f"/autoship/calendar/{token}.ics").get_data())]
    clock(NOW + timedelta(hours=5))
    after = events_of(client.get(f"/autoship/calendar/{token}.ics").get_data())
    assert [str(event["UID"]) for event in after] == before
    assert {event["DTSTAMP"].dt for event in after} == {NOW + timedelta(hours=5)}


def test_commas_semicolons_backslashes_and_newlines_in_a_name_are_escaped():
    name = "Coffee, tea; and a\nsecond line with a back\\slash " + "é" * 40
    document = write_feed([FeedEvent(date(2027, 1, 5), 7, name, 3)], company="Acme, Inc.", stamp=NOW)

    assert "Autoship: Coffee\\, tea\\; and a\\nsecond line with a back\\\\slash" in document
    assert overlong_lines(document.encode()) == []  # counted in octets: each é is two
    [event] = events_of(document)
    assert str(event["SUMMARY"]) == f"Autoship: {name}"
    assert str(event["DESCRIPTION"]) == "3 item(s) ship on this day."
    assert str(event["UID"]) == "autoship-7-20270105@standing-order"
    assert str(Calendar.from_ical(document)["X-WR-CALNAME"]) == "Acme, Inc. autoship"


def test_a_person_without_upcoming_runs_gets_an_empty_calendar(client, session, member, clock):
    clock(NOW)
    token = calendar_tokens.issue_calendar_token(session, user=member)
    response = client.get(f"/autoship/calendar/{token}.ics")
    assert response.status_code == 200
    assert events_of(response.get_data()) == []
