"""The RQ cron scheduler: ``make cron`` (or ``python -m jobs.cron``).

RQ's CronScheduler enqueues with the default (pickle) serializer; our workers read JSON, so
the scheduler's jobs are enqueued through a JSON queue. RQ's cron has no lock: two cron
processes enqueue twice, so every periodic job is safe to run twice.
"""

from __future__ import annotations

import logging

from rq import Queue
from rq.cron import CronJob, CronScheduler
from rq.serializers import JSONSerializer

from portal import create_app
from portal.queues import get_redis


class JSONCronJob(CronJob):
    def enqueue(self, connection):
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        return queue.enqueue(self.func_name, *self.args, **self.kwargs, **self.job_options)


def schedule(app) -> list[dict]:
    """What cron enqueues: every entry is (function, queue, interval seconds or a cron string,
    in UTC)."""
    return [
        {"func_name": "jobs.mail.deliver_waiting", "queue_name": "mail", "interval": 300},
        {"func_name": "jobs.autoship.tick", "queue_name": "default", "interval": 300},
        {"func_name": "jobs.oneclick.sweep_closed_windows", "queue_name": "default", "interval": 60},
        *([{"func_name": "jobs.fulfilment.plan_periodically", "queue_name": "default",
            "interval": int(app.config["PLANNING_CRON_SECONDS"])}]
          if app.config.get("PLANNING_CRON_SECONDS") else []),
        *([{"func_name": "jobs.autoship.repair_cycle_pv", "queue_name": "default",
            "cron": app.config["CYCLE_PV_REPAIR_CRON"]}]
          if app.config.get("CYCLE_PV_REPAIR_CRON") else []),
    ]


def build_scheduler(app) -> CronScheduler:
    scheduler = CronScheduler(connection=get_redis(app), logging_level=logging.INFO)
    for entry in schedule(app):
        job = JSONCronJob(job_timeout=600, **entry)
        scheduler._cron_jobs.append(job)
    return scheduler


def main() -> None:
    app = create_app()
    build_scheduler(app).start()


if __name__ == "__main__":
    main()
