"""The standing orders' iCalendar feed: one all-day event per upcoming run, for a calendar app.

A person subscribes their calendar app to a secret link; the app fetches this document now and
then. The ``icalendar`` package writes it, so the text follows RFC 5545 whatever the names hold:
lines folded at 75 octets, and commas, semicolons, backslashes and newlines escaped.

Each event keeps its UID from one fetch to the next (profile and run date), so a calendar app
updates a moved or skipped run instead of showing it twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.autoship.queries import upcoming_for_person
from portal.clock import utcnow

HORIZON_DAYS = 366


@dataclass(frozen=True)
class FeedEvent:
    """One upcoming run of one standing order."""

    day: date
    profile_id: int
    name: str
    item_count: int


def feed_events(session: Session, user: User, today: date) -> list[FeedEvent]:
    """The person's upcoming runs within a year, soonest first."""
    return [FeedEvent(day, profile.id, profile.name, len(profile.items))
            for day, profile in upcoming_for_person(session, user, today, horizon_days=HORIZON_DAYS)]


def write_feed(events: Iterable[FeedEvent], *, company: str, stamp: datetime) -> str:
    """The iCalendar document for ``events``; ``stamp`` (aware, UTC) is every event's DTSTAMP."""
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", f"-//{company}//Autoship//EN")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{company} autoship")
    for event in events:
        entry = Event()
        entry.add("uid", f"autoship-{event.profile_id}-{event.day:%Y%m%d}@standing-order")
        entry.add("dtstamp", stamp)
        entry.add("dtstart", event.day)
        entry.add("dtend", event.day + timedelta(days=1))
        entry.add("summary", f"Autoship: {event.name}")
        entry.add("description", f"{event.item_count} item(s) ship on this day.")
        entry.add("transp", "TRANSPARENT")
        calendar.add_component(entry)
    return calendar.to_ical().decode()


def build_feed(session: Session, user: User, today: date, company: str) -> str:
    """The feed of ``user``'s standing orders as of ``today``, stamped with the portal's clock."""
    return write_feed(feed_events(session, user, today), company=company, stamp=utcnow())
