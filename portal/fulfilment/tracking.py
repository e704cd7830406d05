"""Carriers and tracking numbers: what the warehouse reports when a shipment leaves, checked
the same way whether an admin types it or uploads it, and the link a member follows.

A carrier is one of the configured ones (``TRACKING_URLS``, matched whatever the case, so "ups"
is "UPS") or any other name in plain words, which is kept and shown without a link. A tracking
number is 4 to 40 letters and digits; spaces and dashes typed between them are dropped, letters
are upper-cased. Text that a spreadsheet would run as a formula is refused outright, so that it
never reaches an export. A ship date is today or up to ``SHIP_DATE_DAYS_BACK`` days before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

from portal.errors import DomainError
from portal.spreadsheet import looks_like_formula

MAX_TRACKING_NUMBERS = 20
SHIP_DATE_DAYS_BACK = 60
CARRIER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 &.'-]{0,39}")
NUMBER_PATTERN = re.compile(r"[A-Z0-9]{4,40}")
FORMULA_REFUSED = "looks like a spreadsheet formula, which is never stored"


class TrackingRefused(DomainError):
    """What the warehouse reported cannot be used; ``field`` names what is wrong."""


@dataclass(frozen=True)
class Dispatch:
    """A shipment leaving: its carrier, its parcels' tracking numbers and the day."""

    carrier: str
    numbers: tuple[str, ...]
    shipped_on: date


@dataclass(frozen=True)
class Parcel:
    number: str
    link: str | None  # None: a carrier without a configured tracking page


def check_tracking_urls(urls) -> None:
    """Configuration, checked when the app starts: every template an http(s) address with
    ``{number}`` in it."""
    if not isinstance(urls, dict):
        raise RuntimeError("TRACKING_URLS must be a JSON object of carrier names and URL templates")
    for carrier, template in urls.items():
        if not (isinstance(template, str) and re.match(r"https?://[^\s]+$", template)
                and "{number}" in template and CARRIER_PATTERN.fullmatch(str(carrier))):
            raise RuntimeError(f"TRACKING_URLS[{carrier!r}] must be an http(s) address holding "
                               f"{{number}}, under a carrier name in plain words; it is {template!r}")


def carrier_name(raw: str, urls: dict[str, str]) -> str:
    """The carrier as stored: a configured name in its configured spelling, or the name given."""
    text = (raw or "").strip()
    if not text:
        raise TrackingRefused("Enter the carrier.", "carrier")
    if looks_like_formula(text):
        raise TrackingRefused(f"The carrier {text[:40]!r} {FORMULA_REFUSED}.", "carrier")
    if not CARRIER_PATTERN.fullmatch(text):
        raise TrackingRefused("The carrier is 1 to 40 letters, digits, spaces or & . ' - "
                              f"(found {text[:40]!r}).", "carrier")
    known = {name.casefold(): name for name in urls}
    return known.get(text.casefold(), text)


def tracking_number(raw: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise TrackingRefused("Enter the tracking number.", "numbers")
    if looks_like_formula(text):
        raise TrackingRefused(f"The tracking number {text[:40]!r} {FORMULA_REFUSED}.", "numbers")
    number = re.sub(r"[ -]", "", text).upper()
    if not NUMBER_PATTERN.fullmatch(number):
        raise TrackingRefused(f"A tracking number is 4 to 40 letters and digits (found "
                              f"{text[:40]!r}).", "numbers")
    return number


def tracking_numbers(raw: str) -> tuple[str, ...]:
    """Several numbers, one a line or separated by commas, each once, in the order typed."""
    found = []
    for piece in re.split(r"[\r\n,;]+", raw or ""):
        if piece.strip():
            number = tracking_number(piece)
            if number not in found:
                found.append(number)
    if not found:
        raise TrackingRefused("Enter the tracking number.", "numbers")
    if len(found) > MAX_TRACKING_NUMBERS:
        raise TrackingRefused(f"At most {MAX_TRACKING_NUMBERS} tracking numbers a shipment.", "numbers")
    return tuple(found)


def ship_date(day: date | None, today: date) -> date:
    if day is None:
        raise TrackingRefused("Enter the day it shipped.", "shipped_on")
    if day > today:
        raise TrackingRefused(f"The ship date {day.isoformat()} is in the future.", "shipped_on")
    if day < today - timedelta(days=SHIP_DATE_DAYS_BACK):
        raise TrackingRefused(f"The ship date {day.isoformat()} is more than "
                              f"{SHIP_DATE_DAYS_BACK} days ago.", "shipped_on")
    return day


class DispatchRefused(TrackingRefused):
    """Some of what was typed is wrong: ``problems`` holds one TrackingRefused per field, so
    that the form shows them all at once."""

    def __init__(self, problems: list[TrackingRefused]):
        super().__init__(problems[0].message, problems[0].field)
        self.problems = problems


def read_dispatch(*, carrier: str, numbers: str, shipped_on: date | None, today: date,
                  urls: dict[str, str]) -> Dispatch:
    """What an admin typed, checked; DispatchRefused names every field that is wrong."""
    checked, problems = {}, []
    for name, check in (("carrier", lambda: carrier_name(carrier, urls)),
                        ("numbers", lambda: tracking_numbers(numbers)),
                        ("shipped_on", lambda: ship_date(shipped_on, today))):
        try:
            checked[name] = check()
        except TrackingRefused as refused:
            problems.append(refused)
    if problems:
        raise DispatchRefused(problems)
    return Dispatch(**checked)


def tracking_link(carrier: str | None, number: str, urls: dict[str, str]) -> str | None:
    """The carrier's page for ``number``, or None for a carrier without one."""
    template = urls.get(carrier or "")
    return template.replace("{number}", quote(number, safe="")) if template else None


def parcels(carrier: str | None, numbers, urls: dict[str, str]) -> list[Parcel]:
    return [Parcel(number=number, link=tracking_link(carrier, number, urls)) for number in numbers]
