"""Refresh requests, coalesced in Redis: a burst of paid orders causes one refresh job.

A request is recorded in the session and sent after its commit (nothing on rollback): the
buyers' ids join the period's set ``volume:refresh:<period>:people`` and, unless a job for
the period is already pending (``:pending``, with a time to live so that a lost job cannot
block refreshes forever), one is enqueued. The job (``jobs.volume.refresh``) first stops being
pending, then takes the whole set at once, then refreshes those people in one transaction:
ids added after it took the set wait for the next job, which their request enqueued.
"""

from __future__ import annotations

from datetime import date

import redis as redis_lib
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session

from portal.queues import get_queue, get_redis

REFRESH_JOB = "jobs.volume.refresh"
QUEUE = "default"
PENDING_TTL_SECONDS = 300
_SESSION_KEY = "portal.volume.refresh_requests"
_SESSION_APP_KEY = "portal.volume.app"

# KEYS: people, pending. ARGV: pending ttl, then ids. 1 when the caller must enqueue a job.
_REQUEST_SCRIPT = """
for i = 2, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[1])) then return 1 end
return 0
"""
# KEYS: people, pending. Stops being pending and takes the ids.
_TAKE_SCRIPT = """
redis.call('DEL', KEYS[2])
local ids = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return ids
"""


def _keys(period: date) -> tuple[str, str]:
    prefix = f"volume:refresh:{period.isoformat()}"
    return f"{prefix}:people", f"{prefix}:pending"


def request_volume_refresh(session: Session, *, period: date, user_ids) -> None:
    """Ask for the refresh of ``user_ids`` (buyers) and their uplines in ``period`` once
    ``session`` commits. If Redis is unreachable the request is logged and lost; the nightly
    recompute of the open period (``jobs.volume.recompute_open``) puts it right."""
    if isinstance(session, scoped_session):
        session = session()
    if not session.in_transaction():
        session.begin()
    wanted = session.info.setdefault(_SESSION_KEY, {})
    wanted.setdefault(period, set()).update(int(uid) for uid in user_ids)
    session.info[_SESSION_APP_KEY] = current_app._get_current_object()


@event.listens_for(Session, "after_commit")
def _send_requests(session: Session) -> None:
    if session.in_nested_transaction():
        return
    wanted = session.info.pop(_SESSION_KEY, None)
    app = session.info.pop(_SESSION_APP_KEY, None)
    if not wanted or app is None:
        return
    for period, ids in wanted.items():
        try:
            send_request(app, period, ids)
        except redis_lib.RedisError as error:
            app.logger.warning("volume refresh of %s for %d people not sent: %s", period,
                               len(ids), error)


@event.listens_for(Session, "after_soft_rollback")
def _drop_requests(session: Session, previous_transaction) -> None:
    if previous_transaction.nested or previous_transaction.parent is not None:
        return
    session.info.pop(_SESSION_KEY, None)
    session.info.pop(_SESSION_APP_KEY, None)


def send_request(app: Flask, period: date, user_ids) -> bool:
    """Record the ids; enqueue a job unless one is pending. True when a job was enqueued."""
    people, pending = _keys(period)
    ids = sorted(int(uid) for uid in user_ids)
    if not ids:
        return False
    if not get_redis(app).eval(_REQUEST_SCRIPT, 2, people, pending, PENDING_TTL_SECONDS, *ids):
        return False
    get_queue(QUEUE, app).enqueue(REFRESH_JOB, period.isoformat(), job_timeout=900,
                                  result_ttl=3600, failure_ttl=7 * 86400)
    return True


def take_requested(app: Flask, period: date) -> list[int]:
    """Stop being the pending job for ``period`` and take the ids waiting for it."""
    people, pending = _keys(period)
    return sorted(int(uid) for uid in get_redis(app).eval(_TAKE_SCRIPT, 2, people, pending))


def waiting(app: Flask, period: date) -> int:
    """How many people wait for a refresh of ``period``."""
    people, _ = _keys(period)
    return int(get_redis(app).scard(people))
