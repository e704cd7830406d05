"""1-Click jobs: finalise one single-action order; sweep the orders whose window has closed.

Finalising is two commits: first the order leaves "open" (no more additions or cancellations),
then it is charged with the order's own idempotency key. A worker that dies anywhere leaves the
order open or pending payment, and the next sweep finishes it without charging twice.
"""

from __future__ import annotations

from flask import current_app
from rq.job import Job, JobStatus
from rq.exceptions import NoSuchJobError

from portal.clock import company_today
from portal.clock import utcnow
from portal.extensions import db
from portal.oneclick.queries import due_for_finalisation
from portal.oneclick.finalising import charge_closed_order, close_window
from portal.payments.services import gateway_for
from portal.queues import get_queue, get_redis
from portal.unit_of_work import commit_before, release_before, transactional

STILL_COMING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


@transactional
def finalise_order(order_id: int) -> str:
    outcome = close_window(db.session, order_id=order_id, now=utcnow(), today=company_today())
    commit_before(db.session, "the closed order is charged")
    charged = charge_closed_order(db.session, order_id=order_id, gateway=gateway_for())
    return charged if charged != "nothing to do" else outcome


@transactional
def sweep_closed_windows() -> int:
    """Cron: enqueue finalisation for every order whose window has closed (or whose earlier
    finalisation did not finish), unless its job is already waiting or running."""
    order_ids = due_for_finalisation(db.session, utcnow())
    release_before(db.session, "Redis is asked about each order's job")  # read only
    connection = get_redis(current_app)
    enqueued = 0
    for order_id in order_ids:
        job_id = f"oneclick-finalise-{order_id}"
        try:
            if Job.fetch(job_id, connection=connection).get_status() in STILL_COMING:
                continue
        except NoSuchJobError:
            pass
        get_queue("default").enqueue("jobs.oneclick.finalise_order", order_id, job_id=job_id,
                                     job_timeout=120)
        enqueued += 1
    return enqueued
