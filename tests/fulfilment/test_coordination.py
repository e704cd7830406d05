"""Planning requests: sent after the commit, coalesced into one pending job, never lost."""

from __future__ import annotations

import time

import pytest
from rq.job import Job
from sqlalchemy import func, select

import jobs.fulfilment
from portal.accounts.models import User
from portal.fulfilment import coordination
from portal.fulfilment.models import PlanningRun
from portal.fulfilment.coordination import request_planning
from portal.queues import get_queue
from tests.factories import make_user


def planning_jobs() -> list[Job]:
    return [job for job in get_queue("default").get_jobs() if job.func_name == coordination.PLAN_JOB]


def test_a_request_is_sent_only_when_the_session_commits(session, redis):
    make_user(session)
    request_planning(session, "checkout")
    assert planning_jobs() == []
    session.commit()
    [job] = planning_jobs()
    assert redis.get(coordination.PENDING_KEY).decode() == job.id
    assert coordination.take_requests(redis, job.id) == {"checkout": 1}


def test_a_rolled_back_request_is_never_sent(session, redis):
    make_user(session)
    session.commit()
    request_planning(session, "checkout")
    session.rollback()
    session.commit()
    assert planning_jobs() == [] and redis.get(coordination.PENDING_KEY) is None


def test_requests_join_the_pending_job_until_it_starts_loading(session, redis):
    for reason in ("checkout", "checkout", "receipt"):
        request_planning(session, reason)
        session.commit()
    [job] = planning_jobs()
    assert coordination.take_requests(redis, job.id) == {"checkout": 2, "receipt": 1}
    assert redis.get(coordination.PENDING_KEY) is None

    request_planning(session, "autoship")  # the job is loading: this needs one more run
    session.commit()
    request_planning(session, "checkout")
    session.commit()
    jobs_now = planning_jobs()
    assert len(jobs_now) == 2 and jobs_now[1].id != job.id
    assert coordination.take_requests(redis, jobs_now[1].id) == {"autoship": 1, "checkout": 1}


def test_a_job_id_is_never_reused(session, redis):
    ids = set()
    for _ in range(3):
        request_planning(session, "checkout")
        session.commit()
        ids.add(planning_jobs()[-1].id)
        coordination.take_requests(redis, planning_jobs()[-1].id)
    assert len(ids) == 3


def test_a_lost_pending_job_is_replaced(app, session, redis):
    request_planning(session, "checkout")
    session.commit()
    [job] = planning_jobs()
    job.delete()  # someone removed it from the dashboard, say
    redis.expire(coordination.PENDING_KEY, app.config["PLANNING_PENDING_TTL_SECONDS"] - 60)
    request_planning(session, "receipt")
    session.commit()
    [replacement] = planning_jobs()
    assert replacement.id != job.id
    assert redis.get(coordination.PENDING_KEY).decode() == replacement.id


def test_a_finished_pending_job_is_replaced(session, redis):
    request_planning(session, "checkout")
    session.commit()
    [job] = planning_jobs()
    job.set_status("finished")
    get_queue("default").remove(job)
    request_planning(session, "receipt")
    session.commit()
    assert [j.id for j in planning_jobs()] != [] and planning_jobs()[0].id != job.id


def test_a_request_that_cannot_reach_redis_does_not_undo_the_commit(app, session, redis_down, caplog):
    user = make_user(session)
    request_planning(session, "checkout")
    session.commit()  # no exception: the change stays committed, cron plans later
    assert session.scalar(select(func.count()).select_from(User).where(User.id == user.id)) == 1
    assert "planning request {'checkout': 1} not sent" in caplog.text


def test_jobs_carry_only_the_reason(session, redis):
    request_planning(session, "receipt")
    session.commit()
    [job] = planning_jobs()
    fetched = Job.fetch(job.id, connection=redis)
    assert list(fetched.args) == ["request"] and fetched.kwargs == {}


def test_the_debounce_waits_for_a_quiet_moment(redis):
    redis.set(coordination.LAST_REQUEST_KEY, int(time.time() * 1000))
    slept: list[float] = []
    coordination.wait_for_quiet(redis, quiet=0.2, max_delay=5, sleep=lambda s: (slept.append(s), time.sleep(s)))
    assert slept and 0 < slept[0] <= 0.2


def test_the_debounce_gives_up_waiting_after_its_maximum(redis):
    def request_arrives():
        seconds, micros = redis.time()
        redis.set(coordination.LAST_REQUEST_KEY, seconds * 1000 + micros // 1000)

    slept: list[float] = []

    def sleep_while_requests_keep_coming(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)
        request_arrives()  # it is never quiet: a request came just before every look

    request_arrives()
    waited = coordination.wait_for_quiet(redis, quiet=0.5, max_delay=0.6,
                                         sleep=sleep_while_requests_keep_coming)
    assert waited >= 0.6  # it waited its maximum ...
    assert len(slept) >= 2 and sum(slept) <= 0.6 + 1e-9  # ... and asked to sleep no longer


def test_the_lock_lets_one_holder_in_at_a_time(redis):
    with coordination.planning_lock(redis, timeout=10):
        with pytest.raises(coordination.PlanningLockTimeout):
            with coordination.planning_lock(redis, timeout=10, wait=0.2):
                pass
    with coordination.planning_lock(redis, timeout=10, wait=0.2):
        pass


def test_a_failed_run_is_recorded_rolled_back_and_raised(app, session, redis, monkeypatch):
    def broken(session_, **kwargs):
        raise RuntimeError("the planner fell over")

    monkeypatch.setattr(jobs.fulfilment, "run_planning", broken)
    monkeypatch.setitem(app.config, "PLANNING_QUIET_SECONDS", 0)
    with pytest.raises(RuntimeError, match="fell over"):
        jobs.fulfilment.plan("test")
    [run] = session.query(PlanningRun).all()
    assert run.status == "failed" and "fell over" in run.error and run.trigger == "test"
    assert redis.get(coordination.LOCK_KEY) is None  # the lock was given back


def test_describing_requests_puts_the_most_frequent_first():
    assert coordination.describe_requests({"receipt": 1, "checkout": 37}) == "checkout ×37, receipt"
    assert coordination.describe_requests({}) == ""
