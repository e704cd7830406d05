"""Recomputing a period, started by an admin: one unit of work, its progress kept in the job's
meta (people done of people in all) for the admin page to follow."""

from __future__ import annotations

from datetime import date

from rq import get_current_job
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.extensions import db
from portal.unit_of_work import transactional
from portal.volume.computation import recompute_period


@transactional
def recompute(period: str) -> dict:
    job = get_current_job()

    if job is not None:
        job.meta.update(done=0, total=db.session.scalar(
            select(func.count()).select_from(User).where(User.tree_path.is_not(None))) or 0)
        job.save_meta()

    def report(passed: int) -> None:  # told every few thousand people passed over
        if job is not None:
            job.meta["done"] = job.meta.get("done", 0) + passed
            job.save_meta()

    summary = recompute_period(db.session, date.fromisoformat(f"{period}-01"), progress=report)
    if job is not None:
        job.meta.update(done=summary.people, total=summary.people)
        job.save_meta()
    return {"period": period, "people": summary.people, "rows": summary.rows, "ranked": summary.ranked,
            "plan_version": summary.plan_version}
