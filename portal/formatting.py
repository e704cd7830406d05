"""One way to write money, volume, counts and dates, for pages, fragments, flash messages and mail.

Everything a person reads goes through these functions (registered as Jinja filters in
``portal.templating``), so "$1,250.34" reads the same on a page, in a flash message and in a
mail, and a count of things agrees with its noun ("1 each", "2 eaches"). They use Babel with the
company's locale and currency (``LOCALE``, ``CURRENCY`` in the config): the ground for other
languages and currencies later. Machine-readable output (CSV exports, CLI tables, RRULEs, ISO
dates in URLs) is not for people and keeps its own plain form.

Each function takes ``config`` like ``portal.clock`` does: the app's config unless one is given,
and the portal's defaults when there is no app at all (a script, a pure test).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from flask import current_app, has_app_context

DEFAULTS = {"LOCALE": "en_US", "CURRENCY": "USD", "COMPANY_TIMEZONE": "America/Chicago"}

# How a date is written, by purpose (CLDR patterns, so the words follow the locale).
DATE_STYLES = {
    "date": "MMM d, y",               # Feb 1, 2027
    "short": "MMM d",                 # Feb 1 (the year is plain from the context)
    "weekday": "EEE, MMM d, y",       # Mon, Feb 1, 2027
    "weekday_short": "EEE, MMM d",    # Mon, Feb 1
    "long": "EEEE, MMMM d, y",        # Monday, February 1, 2027
    "long_short": "EEEE, MMMM d",     # Monday, February 1
    "day_of_month": "MMMM d",         # February 1
    "full": "MMMM d, y",              # February 1, 2027
    "month": "MMMM y",                # February 2027
    "month_short": "MMM y",           # Feb 2027
}
# How a moment is written, in the company's timezone.
TIME_STYLES = {
    "datetime": "MMM d, y h:mm a",    # Feb 1, 2027 2:05 PM
    "date": "MMM d, y",
    "short": "MMM d",
    "full": "MMMM d, y",              # February 1, 2027 (the date of a moment)
    "day_and_time": "MMM d, h:mm:ss a",
    "time": "h:mm a",                 # 2:05 PM
}


def _setting(config, name: str) -> str:
    if config is None:
        config = current_app.config if has_app_context() else DEFAULTS
    return config.get(name) or DEFAULTS[name]


@lru_cache(maxsize=8)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def money(value, config=None) -> str:
    """An amount in the company's currency: "$1,250.34"; nothing for None."""
    if value is None:
        return ""
    return format_currency(Decimal(value), _setting(config, "CURRENCY"),
                           locale=_locale(_setting(config, "LOCALE")))


def volume(value, config=None) -> str:
    """PV or BV, two places with grouping: "1,250.00"; nothing for None."""
    if value is None:
        return ""
    return format_decimal(Decimal(value), format="#,##0.00", locale=_locale(_setting(config, "LOCALE")))


def number(value, config=None) -> str:
    """A whole count with grouping: "12,500"; nothing for None."""
    if value is None:
        return ""
    return format_decimal(value, format="#,##0", locale=_locale(_setting(config, "LOCALE")))


def counted(amount: int, singular: str, plural: str, config=None) -> str:
    """A count with the noun that agrees with it: "1 each", "2 eaches", "1,000 cases". The
    locale's plural rules choose the form ("one" or any other)."""
    form = _locale(_setting(config, "LOCALE")).plural_form(abs(amount))
    return f"{number(amount, config)} {singular if form == 'one' else plural}"


def day(value: date | None, style: str = "date", config=None) -> str:
    """A calendar date in one of ``DATE_STYLES``: "Feb 1, 2027"; nothing for None."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    return format_date(value, DATE_STYLES[style], locale=_locale(_setting(config, "LOCALE")))


def local_time(value: datetime | None, style: str = "datetime", config=None) -> str:
    """A stored (UTC) moment in the company's timezone, in one of ``TIME_STYLES``:
    "Feb 1, 2027 2:05 PM"; nothing for None."""
    if value is None:
        return ""
    return format_datetime(value, TIME_STYLES[style], tzinfo=ZoneInfo(_setting(config, "COMPANY_TIMEZONE")),
                           locale=_locale(_setting(config, "LOCALE")))
