"""RQ entry points of loyalty points."""

from __future__ import annotations

from portal.clock import company_today
from portal.extensions import db
from portal.loyalty.ledger import expire_points
from portal.unit_of_work import transactional


@transactional
def expire_due_points() -> dict:
    """Cron, daily: expire the points due by today (company time). Set-based and idempotent:
    a second run the same day (two cron processes) expires nothing more."""
    today = company_today()
    return {"today": today.isoformat(), "people": expire_points(db.session, today=today)}
