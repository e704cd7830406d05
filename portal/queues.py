"""Redis and RQ queues: one connection per app, jobs that carry ids, enqueued after commit."""

from __future__ import annotations

import atexit
from pathlib import Path

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal import embedded_redis

_EXTENSION_KEY = "portal.redis"
_PENDING_KEY = "portal.jobs_after_commit"


def redis_url(app: Flask) -> str:
    """The configured Redis, or the embedded one (started on demand, stopped at exit)."""
    if app.config.get("REDIS_URL"):
        return app.config["REDIS_URL"]
    data_dir = Path(app.instance_path) / "redis"
    url = embedded_redis.running_url(data_dir)
    if url is None:
        server = embedded_redis.start(data_dir)
        atexit.register(server.stop)
        url = server.url
    app.config["REDIS_URL"] = url
    return url


def get_redis(app: Flask | None = None) -> redis.Redis:
    app = app or current_app._get_current_object()
    connection = app.extensions.get(_EXTENSION_KEY)
    if connection is None:
        connection = redis.Redis.from_url(redis_url(app), health_check_interval=30)
        app.extensions[_EXTENSION_KEY] = connection
    return connection


def get_queue(name: str = "default", app: Flask | None = None) -> Queue:
    return Queue(name, connection=get_redis(app))


def enqueue_after_commit(session: Session, func: str, *args, queue: str = "default",
                         job_id: str | None = None, retry: Retry | None = None,
                         job_timeout: int = 600) -> None:
    """Enqueue ``func`` (a dotted path) once ``session`` commits; dropped on rollback.

    Jobs carry only ids and dates so that nothing user-typed reaches the queue.
    """
    pending = session.info.setdefault(_PENDING_KEY, [])
    pending.append((current_app._get_current_object(), queue, func, args, job_id, retry,
                    job_timeout))


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    """A job Redis does not take (unreachable, or refusing writes) is logged, not raised: the
    change is committed already, and an error now would tell the person it failed. Each job
    enqueued this way has a safety net that finds its work later: mail the outbox's cron
    (``jobs.mail.deliver_waiting``), a product's cycle PV the nightly repair, an autoship
    chunk the run's "Retry the unfinished chunks" and the payment retries.

    SQLAlchemy reports a savepoint's release as a commit too: the jobs wait for the real one."""
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING_KEY, [])
    for app, queue, func, args, job_id, retry, job_timeout in pending:
        try:
            get_queue(queue, app).enqueue(func, *args, job_id=job_id, retry=retry,
                                          job_timeout=job_timeout)
        except redis.RedisError as error:
            app.logger.error("job %s%r not enqueued on %r after the commit: %s", func,
                             tuple(args), queue, error)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    # A savepoint rolled back (a guarded insert that met a twin) leaves the transaction, and the
    # jobs it asked for before, alive.
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING_KEY, None)
