"""Planning requests, coalesced in Redis, and one planning run at a time.

A request is sent after the commit of the change that caused it (a paid order, a receipt). It
either joins the *pending* planning job, the one queued and not yet loading orders, or, when
there is none, enqueues a new one and makes it the pending job. A pending job that has not
loaded anything yet will see every change committed before it loads, so joining it is enough:
a burst of requests becomes one run. Requests made while a run is loading or saving find no
pending job and enqueue exactly one more, which waits for the running one.

The job (``jobs.fulfilment.plan``):

1. takes the run lock (a redis-py ``Lock`` with a timeout), waiting for a running run;
2. waits for a quiet moment: until no request came for ``quiet`` seconds, at most ``max_delay``
   (the debounce; requests meanwhile still join it);
3. stops being pending and takes the list of requests it answers, atomically;
4. plans in one database transaction, under the database's own guard (see ``planning``), so
   that even a lost Redis lock cannot make two runs allocate at once.

Keys: ``fulfilment:plan:pending`` (the pending job's id, with a time to live so that a lost
job cannot block planning forever), ``:requests`` (reason -> count, for the run's record),
``:last`` (Redis time of the latest request, the debounce's clock), ``:lock`` and ``:seq``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import redis as redis_lib
from flask import Flask, current_app
from redis.exceptions import LockError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from portal.queues import get_queue, get_redis

PLAN_JOB = "jobs.fulfilment.plan"
PREFIX = "fulfilment:plan"
PENDING_KEY = f"{PREFIX}:pending"
REQUESTS_KEY = f"{PREFIX}:requests"
LAST_REQUEST_KEY = f"{PREFIX}:last"
LOCK_KEY = f"{PREFIX}:lock"
SEQUENCE_KEY = f"{PREFIX}:seq"
JOB_ID_PREFIX = "fulfilment-plan-"
# A pending id whose job cannot be found is given this long to be enqueued before it counts as
# lost (the id is claimed a moment before its job is written).
LOST_JOB_GRACE_SECONDS = 10
# Where a session keeps the requests it sends after its commit, and the app to send them with.
_SESSION_REQUESTS_KEY = "portal.fulfilment.planning_requests"
_SESSION_APP_KEY = "portal.fulfilment.app"
TERMINAL_STATUSES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}

log = logging.getLogger(__name__)

# KEYS: pending, requests, last. ARGV: new job id, pending ttl, then reason, count pairs.
# Returns 1 when the new id became the pending job (the caller must enqueue it), else 0.
_REQUEST_SCRIPT = """
local now = redis.call('TIME')
redis.call('SET', KEYS[3], tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000))
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[2], ARGV[i], tonumber(ARGV[i + 1]))
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then
  return 1
end
return 0
"""

# KEYS: pending. ARGV: expected id, new id, ttl. Compare-and-set for replacing a lost job.
_REPLACE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0
"""

# KEYS: pending, requests. ARGV: the job's id. Stops coalescing into the job and returns the
# requests it answers.
_TAKE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
local taken = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[2])
return taken
"""


class PlanningLockTimeout(RuntimeError):
    """The lock stayed taken for longer than a run may last: something is stuck."""


def request_planning(session: Session, reason: str) -> None:
    """Ask for a planning run once ``session`` commits; nothing happens on rollback.

    Call it beside any change the plan depends on: a paid order (checkout, a finalised
    1-Click order, a materialised autoship order), a receipt, an expected arrival. Requests
    are coalesced: a burst of them causes one run, and a request made while a run is going
    causes exactly one more run after it. ``reason`` is a short fixed word ("checkout"), shown
    in the history of planning runs. If Redis is unreachable the request is logged and lost;
    the cron safety net plans again within ``PLANNING_CRON_SECONDS``.
    """
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still drops the request
    requests = session.info.setdefault(_SESSION_REQUESTS_KEY, Counter())
    requests[reason[:60] or "unspecified"] += 1
    session.info[_SESSION_APP_KEY] = current_app._get_current_object()


@event.listens_for(Session, "after_commit")
def _send_planning_requests(session: Session) -> None:
    requests = session.info.pop(_SESSION_REQUESTS_KEY, None)
    app = session.info.pop(_SESSION_APP_KEY, None)
    if not requests or app is None:
        return
    try:
        request_run(app, requests)
    except redis_lib.RedisError as error:
        app.logger.warning("planning request %s not sent: %s", dict(requests), error)


@event.listens_for(Session, "after_soft_rollback")
def _drop_planning_requests(session: Session, previous_transaction) -> None:
    # Every rollback of the outermost transaction, even one that had not reached the database
    # yet; a savepoint's rollback keeps what the outer transaction asked for.
    if previous_transaction.nested or previous_transaction.parent is not None:
        return
    session.info.pop(_SESSION_REQUESTS_KEY, None)
    session.info.pop(_SESSION_APP_KEY, None)


def request_run(app: Flask, reasons: Mapping[str, int]) -> str | None:
    """Record ``reasons`` and make sure a planning job will run after this moment.

    Returns the id of a newly enqueued job, or None when the pending job answers the request.
    """
    connection = get_redis(app)
    ttl = int(app.config["PLANNING_PENDING_TTL_SECONDS"])
    new_id = f"{JOB_ID_PREFIX}{connection.incr(SEQUENCE_KEY)}"
    pairs = [item for reason, count in reasons.items() for item in (reason[:60], int(count))]
    claimed = connection.eval(_REQUEST_SCRIPT, 3, PENDING_KEY, REQUESTS_KEY, LAST_REQUEST_KEY,
                              new_id, ttl, *pairs)
    if not claimed:
        pending = connection.get(PENDING_KEY)
        if pending is None or not _is_lost(connection, pending.decode(), ttl):
            return None
        if not connection.eval(_REPLACE_SCRIPT, 1, PENDING_KEY, pending, new_id, ttl):
            return None
        log.warning("planning job %s was lost; enqueueing %s instead", pending.decode(), new_id)
    enqueue_run(app, "request", job_id=new_id)
    return new_id


def enqueue_run(app: Flask, reason: str, job_id: str | None = None) -> Job:
    """Enqueue a planning job outside the coalescing (the cron safety net uses this too)."""
    timeout = 2 * int(app.config["PLANNING_LOCK_SECONDS"]) + int(app.config["PLANNING_MAX_DELAY_SECONDS"])
    if job_id is None:
        job_id = f"{JOB_ID_PREFIX}{get_redis(app).incr(SEQUENCE_KEY)}"
    # A failed run rolled back and left the previous plan; try again a little later (a database
    # restart, say) before the cron safety net would.
    return get_queue(app.config["PLANNING_QUEUE"], app).enqueue(
        PLAN_JOB, reason, job_id=job_id, job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400,
        retry=Retry(max=2, interval=[10, 60]))


def _is_lost(connection: redis_lib.Redis, job_id: str, ttl: int) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection).get_status()
    except NoSuchJobError:
        age = ttl - max(connection.ttl(PENDING_KEY), 0)
        return age > LOST_JOB_GRACE_SECONDS
    return status in TERMINAL_STATUSES


@contextmanager
def planning_lock(connection: redis_lib.Redis, timeout: float, wait: float | None = None) -> Iterator[None]:
    """Hold the planning lock, waiting up to ``wait`` seconds (default: ``timeout``) for it."""
    lock = connection.lock(LOCK_KEY, timeout=timeout,
                           blocking_timeout=timeout if wait is None else wait, thread_local=False)
    if not lock.acquire():
        raise PlanningLockTimeout("Another planning run is still going; try again later.")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockError:
            # The run outlived the lock's timeout; the database guard kept it safe meanwhile.
            log.warning("the planning lock had expired before the run finished")


def wait_for_quiet(connection: redis_lib.Redis, quiet: float, max_delay: float,
                   sleep: Callable[[float], None] = time.sleep) -> float:
    """Wait until no request came for ``quiet`` seconds, or ``max_delay`` passed; returns the
    seconds waited."""
    started = time.monotonic()
    while True:
        last = connection.get(LAST_REQUEST_KEY)
        if last is None:
            break
        seconds, micros = connection.time()
        since_last = (seconds * 1000 + micros // 1000 - int(last)) / 1000
        left = max_delay - (time.monotonic() - started)
        if since_last >= quiet or left <= 0:
            break
        sleep(min(quiet - since_last, left))
    return time.monotonic() - started


def take_requests(connection: redis_lib.Redis, job_id: str | None) -> dict[str, int]:
    """Stop coalescing into ``job_id`` and return the requests it answers (reason -> count)."""
    flat = connection.eval(_TAKE_SCRIPT, 2, PENDING_KEY, REQUESTS_KEY, job_id or "")
    pairs = iter(flat)
    return {reason.decode(): int(count) for reason, count in zip(pairs, pairs)}


def describe_requests(requests: Mapping[str, int]) -> str:
    """The requests as text for a run's record, e.g. ``checkout ×37, receipt``."""
    return ", ".join(reason if count == 1 else f"{reason} ×{count}"
                     for reason, count in sorted(requests.items(), key=lambda rc: (-rc[1], rc[0])))
