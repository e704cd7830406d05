"""Shipment planning as an RQ job. See ``portal.fulfilment.coordination`` for how requests are
coalesced and why at most one run plans at a time."""

from __future__ import annotations

from flask import current_app
from rq import get_current_job

from portal.clock import utcnow
from portal.extensions import db
from portal.fulfilment import coordination
from portal.fulfilment.planning import record_failed_run, run_planning
from portal.queues import get_redis
from portal.unit_of_work import commit_before, transactional


@transactional
def plan(reason: str = "") -> dict:
    """Wait for the lock and a quiet moment, then replace the plan in one transaction.

    A failed run rolls back (the previous plan stays), is recorded as failed, and raises.
    """
    config = current_app.config
    redis = get_redis()
    job = get_current_job()
    with coordination.planning_lock(redis, timeout=config["PLANNING_LOCK_SECONDS"]):
        coordination.wait_for_quiet(redis, config["PLANNING_QUIET_SECONDS"],
                                    config["PLANNING_MAX_DELAY_SECONDS"])
        requests = coordination.take_requests(redis, job.id if job else None)
        trigger = coordination.describe_requests(requests) or reason or "direct"
        started_at = utcnow()
        try:
            run = run_planning(db.session, trigger=trigger)
            # The next planner, once it has the lock, must see this plan.
            commit_before(db.session, "the planning lock is released")
        except Exception as error:
            db.session.rollback()
            record_failed_run(db.session, trigger=trigger, error=error, started_at=started_at)
            commit_before(db.session, "the failure is raised to RQ")
            raise
    return {"run": run.id, "orders": run.orders, "shipments_complete": run.shipments_complete,
            "shipments_partial": run.shipments_partial, "orders_waiting": run.orders_waiting}


def plan_periodically() -> str | None:
    """Cron: the safety net for a lost request. Joins a pending run if there is one."""
    return coordination.request_run(current_app._get_current_object(), {"cron": 1})
