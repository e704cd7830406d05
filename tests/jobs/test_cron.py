"""Cron: the schedule is registered through RQ's CronScheduler, and what it enqueues is run by
a real worker."""

from jobs.cron import build_scheduler
from portal.queues import get_queue

EVERY_FEW_MINUTES = {"jobs.mail.deliver_waiting", "jobs.autoship.tick",
                     "jobs.oneclick.sweep_closed_windows", "jobs.fulfilment.plan_periodically"}


def test_cron_registers_the_schedule_with_its_queues_and_times(app):
    jobs = {job.func_name: job for job in build_scheduler(app).get_jobs()}
    assert set(jobs) == EVERY_FEW_MINUTES | {"jobs.autoship.repair_cycle_pv", "jobs.loyalty.expire_due_points",
                                             "jobs.autoship.card_notices", "jobs.volume.recompute_open"}
    assert {name: (job.queue_name, job.interval or job.cron) for name, job in jobs.items()} == {
        "jobs.mail.deliver_waiting": ("mail", 300),
        "jobs.autoship.tick": ("default", 300),
        "jobs.oneclick.sweep_closed_windows": ("default", 60),
        "jobs.fulfilment.plan_periodically": ("default", app.config["PLANNING_CRON_SECONDS"]),
        "jobs.autoship.repair_cycle_pv": ("default", app.config["CYCLE_PV_REPAIR_CRON"]),
        "jobs.loyalty.expire_due_points": ("default", app.config["POINTS_EXPIRY_CRON"]),
        "jobs.autoship.card_notices": ("default", app.config["CARD_NOTICE_CRON"]),
        "jobs.volume.recompute_open": ("default", app.config["VOLUME_RECOMPUTE_CRON"]),
    }
    assert {job.job_options["job_timeout"] for job in jobs.values()} == {600}


def test_a_real_worker_runs_every_job_cron_enqueues(app, session, redis, run_worker):
    scheduler = build_scheduler(app)
    enqueued = scheduler.enqueue_jobs()
    # Interval jobs are enqueued at once; the daily ones (cron strings) at their time.
    assert {job.func_name for job in enqueued} == EVERY_FEW_MINUTES
    assert get_queue("mail").count == 1 and get_queue("default").count == 3
    run_worker("mail", "default")
    for name in ("mail", "default"):
        queue = get_queue(name)
        assert (queue.count, queue.failed_job_registry.count) == (0, 0), name
    assert get_queue("mail").finished_job_registry.count == 1
    # The planning safety net enqueued a planning run, which the worker ran as well.
    assert get_queue("default").finished_job_registry.count == 4
