"""The one clock: every "now" and every "today" in the portal comes from here.

Timestamps are stored in UTC; standing orders, card expiry and the daily run count days in the
company's timezone (``COMPANY_TIMEZONE``), so "today" is the company's today, whatever the
server's timezone. Tests move the clock with ``frozen_at`` (one way, for services, views, jobs
and CLI alike) instead of patching functions here and there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app

_frozen: datetime | None = None


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _frozen if _frozen is not None else datetime.now(timezone.utc)


def company_now(config=None) -> datetime:
    """The current instant in the company's timezone (the app's config unless one is given)."""
    config = current_app.config if config is None else config
    return utcnow().astimezone(ZoneInfo(config["COMPANY_TIMEZONE"]))


def company_today(config=None) -> date:
    """The company's calendar date now."""
    return company_now(config).date()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[datetime]:
    """Stop the clock at ``moment`` (timezone-aware) inside the block: for tests and one-off
    replays, never for requests in production."""
    global _frozen
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs a timezone-aware moment")
    earlier, _frozen = _frozen, moment.astimezone(timezone.utc)
    try:
        yield _frozen
    finally:
        _frozen = earlier
