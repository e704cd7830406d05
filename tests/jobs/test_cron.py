from jobs.cron import build_scheduler, schedule
from portal.queues import get_queue


def test_cron_enqueues_its_jobs_as_json_that_a_worker_can_run(app, session, redis, run_worker):
    scheduler = build_scheduler(app)
    enqueued = scheduler.enqueue_jobs()
    # Interval jobs are enqueued at once; the nightly ones (a cron string) at their time.
    assert {job.func_name for job in enqueued} == {entry["func_name"] for entry in schedule(app)
                                                   if "interval" in entry}
    assert {job.func_name for job in scheduler._cron_jobs if job.cron} == {"jobs.autoship.repair_cycle_pv"}
    assert get_queue("mail").count == 1
    run_worker("mail")
    assert get_queue("mail").count == 0
    assert get_queue("mail").failed_job_registry.count == 0
    assert get_queue("mail").finished_job_registry.count == 1
