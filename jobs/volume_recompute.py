"""Recomputing a period, started by an admin: one unit of work, its progress kept in the job's
meta (people done of people in all) for the admin page to follow."""

from __future__ import annotations

from datetime import date

from rq import get_current_job

from portal.extensions import db
from portal.unit_of_work import transactional
from portal.volume.computation import recompute_period


@transactional
def recompute(period: str) -> dict:
    job = get_current_job()

    def report(done: int, total: int | None = None) -> None:
        if job is None:
            return
        job.meta["done"] = done
        if total is not None:
            job.meta["total"] = total
        job.save_meta()

    summary = recompute_period(db.session, date.fromisoformat(f"{period}-01"), progress=report)
    return summary if isinstance(summary, dict) else {"period": period, "summary": str(summary)}
