"""Volume as RQ jobs: the coalesced refresh after orders change, and the nightly recompute of
the open period (the safety net for a refresh request Redis never took)."""

from __future__ import annotations

from datetime import date

from flask import current_app

from portal.extensions import db
from portal.unit_of_work import transactional
from portal.volume import refreshes
from portal.volume.computation import recompute_period, refresh_people
from portal.volume.periods import current_period


@transactional
def refresh(period: str) -> dict:
    """Refresh the people whose orders changed in ``period`` (ISO date of its first day) and
    their uplines. On failure the ids go back to wait for the next job, and the error raises."""
    app = current_app._get_current_object()
    day = date.fromisoformat(period)
    ids = refreshes.take_requested(app, day)
    try:
        changed = refresh_people(db.session, day, ids)
        db.session.commit()
    except Exception:
        db.session.rollback()
        if ids:
            refreshes.send_request(app, day, ids)
        raise
    return {"period": period, "people": len(ids), "rows": changed}


@transactional
def recompute_open() -> dict:
    """Cron: recompute the current period in full."""
    summary = recompute_period(db.session, current_period())
    return {"period": summary.period.isoformat(), "rows": summary.rows, "ranked": summary.ranked}


def pending_refreshes(period: date) -> int:
    """How many people wait for a refresh of ``period`` (for tests and the admin)."""
    return refreshes.waiting(current_app._get_current_object(), period)
