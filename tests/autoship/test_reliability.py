"""Exactly once, whatever happens to the workers: real RQ worker processes on a real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, insert, select, text

from portal import PROJECT_ROOT
from portal.autoship import operations
from portal.autoship.models import AutoshipItem, AutoshipProfile, AutoshipRun
from portal.extensions import db
from portal.orders.models import Order, OrderLine
from portal.queues import get_queue, get_redis
from tests.conftest import worker_env

pytestmark = pytest.mark.slow
AS_OF = date(2026, 12, 1)


def seed_due_profiles(session, member, product, count: int) -> None:
    session.execute(insert(AutoshipProfile), [
        {"user_id": member.id, "name": f"P{n}", "status": "active", "rrule": "FREQ=MONTHLY;INTERVAL=1",
         "anchor_date": AS_OF, "regularity": "calendar", "next_run_date": AS_OF,
         "address_id": member.home.id, "payment_method_id": member.card.id, "shipping_method": "standard",
         "price_policy": "run_time", "out_of_stock_policy": "backorder"} for n in range(count)])
    ids = session.scalars(select(AutoshipProfile.id)).all()
    session.execute(insert(AutoshipItem), [
        {"profile_id": pid, "product_id": product.id, "unit_code": unit, "quantity": 1}
        for pid in ids for unit in ("each", "case")])
    session.commit()


def chunked_worker_env(app) -> dict:
    return worker_env(app, PORTAL_AUTOSHIP_CHUNK_SIZE=str(app.config["AUTOSHIP_CHUNK_SIZE"]))


def start_worker(app, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", *args], env=chunked_worker_env(app),
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def burst(app) -> None:
    worker = start_worker(app, "--burst", "default", "billing")  # mail is not under test here
    _, errors = worker.communicate(timeout=240)
    assert worker.returncode == 0, errors.decode()[-3000:]


def kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def exactly_once(session, due: int) -> None:
    session.expire_all()
    per_profile = session.execute(select(Order.autoship_profile_id, func.count()).where(
        Order.autoship_due_date == AS_OF).group_by(Order.autoship_profile_id)).all()
    assert len(per_profile) == due and {count for _, count in per_profile} == {1}
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 2 * due
    assert session.scalar(select(func.count()).select_from(AutoshipProfile).where(
        AutoshipProfile.next_run_date == date(2027, 1, 1))) == due
    session.close()  # no open transaction (on SQLite: no write lock) while others work


def snapshot(session) -> list[tuple]:
    session.expire_all()
    return session.execute(text(
        "SELECT o.id, o.autoship_profile_id, o.autoship_due_date, o.total, o.status, "
        "(SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) FROM orders o ORDER BY o.id")).all()


@pytest.fixture
def small_chunks(app):
    before = app.config["AUTOSHIP_CHUNK_SIZE"]
    app.config["AUTOSHIP_CHUNK_SIZE"] = 200
    yield
    app.config["AUTOSHIP_CHUNK_SIZE"] = before


def test_a_worker_killed_mid_chunk_leaves_every_order_exactly_once(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 600)
    run = operations.start_and_enqueue(session, as_of=AS_OF, trigger="test", config=app.config)
    session.commit()
    run_id = run.id
    blocker = None
    if db.engine.dialect.name == "postgresql":
        # Hold the run row: the first chunk does all its inserts, then waits at its last
        # statement with its transaction open, so the kill lands in the middle of it.
        blocker = db.engine.connect()
        blocker.execute(text("SELECT id FROM autoship_runs WHERE id = :id FOR UPDATE"), {"id": run_id})
    session.close()
    worker = start_worker(app, "default")
    registry = StartedJobRegistry("default", connection=get_redis(app))
    deadline = time.monotonic() + 60
    while not registry.get_job_ids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert registry.get_job_ids(), "the worker never started a chunk"
    time.sleep(0.5)
    kill(worker)
    if blocker is not None:
        blocker.rollback()
        blocker.close()
    # RQ cannot finish what a SIGKILL interrupted: the operator (or the admin button) re-runs
    # the unfinished chunks, and the other chunks are still queued.
    operations.retry_failed_chunks(db.session, run_id)
    db.session.commit()
    burst(app)
    exactly_once(db.session, 600)
    assert db.session.get(AutoshipRun, run_id).status == "done"


def test_two_concurrent_runs_and_two_cron_processes_make_one_set_of_orders(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 400)
    session.close()
    env = chunked_worker_env(app)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "autoship", "run", "--as-of",
               AS_OF.isoformat(), "--sync", "--json"]
    runs = [subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [process.communicate(timeout=240) for process in runs]
    assert all(process.returncode == 0 for process in runs), [err.decode()[-2000:] for _, err in outputs]
    exactly_once(db.session, 400)

    # Two cron processes both decide today's run is due: one run row, no second set of jobs.
    cron_date = date(2027, 1, 1)
    results = []
    def start():
        with app.app_context():
            from jobs.autoship import start as start_job
            results.append(start_job(cron_date.isoformat(), "cron"))
            db.session.remove()
    threads = [threading.Thread(target=start) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r is None for r in results) == [False, True]
    burst(app)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order).where(
        Order.autoship_due_date == cron_date)) == 400


def test_three_runs_of_the_same_date_leave_the_same_database(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 300)
    session.close()
    states = []
    for _ in range(3):
        operations.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
        db.session.commit()
        burst(app)
        states.append(snapshot(db.session))
    assert states[0] == states[1] == states[2] and len(states[0]) == 300


def test_redis_flushed_mid_run_then_run_again_loses_and_duplicates_nothing(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 600)
    session.close()
    operations.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
    db.session.commit()
    queue = get_queue("default", app)
    first_job = queue.get_job_ids()[0]
    worker = start_worker(app, "default")
    deadline = time.monotonic() + 60
    while queue.fetch_job(first_job) is not None and queue.fetch_job(first_job).get_status() in ("queued", "started") \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    get_redis(app).flushdb()  # every queued chunk job is lost
    kill(worker)
    db.session.expire_all()
    partly = db.session.scalar(select(func.count()).select_from(Order))
    assert partly < 600
    operations.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
    db.session.commit()
    burst(app)
    exactly_once(db.session, 600)
