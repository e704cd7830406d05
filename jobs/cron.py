"""The RQ cron scheduler: ``make cron`` (or ``python -m jobs.cron``).

Every periodic job is registered with RQ's ``CronScheduler.register``; the scheduler enqueues
them with RQ's default serializer, the one our queues and workers use. RQ's cron has no lock:
two cron processes enqueue twice, so every periodic job is safe to run twice.
"""

from __future__ import annotations

import logging

from rq.cron import CronScheduler

from jobs.autoship import repair_cycle_pv, tick
from jobs.fulfilment import plan_periodically
from jobs.mail import deliver_waiting
from jobs.oneclick import sweep_closed_windows
from jobs.volume import recompute_open
from portal import create_app
from portal.mail.services import RETRY_EVERY_SECONDS
from portal.queues import get_redis

JOB_TIMEOUT_SECONDS = 600


def schedule(app) -> list[dict]:
    """What cron enqueues: every entry is a job function, its queue, and an interval in seconds
    or a cron string (in UTC), as ``CronScheduler.register`` takes them."""
    return [
        {"func": deliver_waiting, "queue_name": "mail", "interval": RETRY_EVERY_SECONDS},
        {"func": tick, "queue_name": "default", "interval": 300},
        {"func": sweep_closed_windows, "queue_name": "default", "interval": 60},
        *([{"func": plan_periodically, "queue_name": "default",
            "interval": int(app.config["PLANNING_CRON_SECONDS"])}]
          if app.config.get("PLANNING_CRON_SECONDS") else []),
        *([{"func": repair_cycle_pv, "queue_name": "default",
            "cron": app.config["CYCLE_PV_REPAIR_CRON"]}]
          if app.config.get("CYCLE_PV_REPAIR_CRON") else []),
        *([{"func": recompute_open, "queue_name": "default",
            "cron": app.config["VOLUME_RECOMPUTE_CRON"]}]
          if app.config.get("VOLUME_RECOMPUTE_CRON") else []),
    ]


def build_scheduler(app) -> CronScheduler:
    scheduler = CronScheduler(connection=get_redis(app), logging_level=logging.INFO)
    for entry in schedule(app):
        scheduler.register(**entry, job_timeout=JOB_TIMEOUT_SECONDS)
    return scheduler


def main() -> None:
    app = create_app()
    build_scheduler(app).start()


if __name__ == "__main__":
    main()
