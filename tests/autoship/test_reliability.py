"""Exactly once, whatever happens to the workers: real RQ worker processes on a real Redis."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, insert, select, text

from portal import PROJECT_ROOT, hold_points
from portal.autoship import runs
from portal.autoship.models import AutoshipItem, AutoshipProfile, AutoshipRun
from portal.autoship.volume import refresh_cycle_pv
from portal.extensions import db
from portal.orders.models import ChargeAttempt, Order, OrderLine
from portal.payments.gateway import SandboxGateway
from portal.queues import get_queue, get_redis
from tests.conftest import worker_env
from tests.factories import make_card

pytestmark = [pytest.mark.slow, pytest.mark.server]
AS_OF = date(2026, 12, 1)


def seed_due_profiles(session, member, product, count: int, cards: list[int] | None = None) -> None:
    cards = cards or [member.card.id]
    session.execute(insert(AutoshipProfile), [
        {"user_id": member.id, "name": f"P{n}", "status": "active", "rrule": "FREQ=MONTHLY;INTERVAL=1",
         "anchor_date": AS_OF, "regularity": "calendar", "next_run_date": AS_OF, "address_id": member.home.id,
         "payment_method_id": cards[n % len(cards)], "shipping_method": "standard",
         "price_policy": "run_time", "out_of_stock_policy": "backorder"} for n in range(count)])
    ids = session.scalars(select(AutoshipProfile.id)).all()
    session.execute(insert(AutoshipItem), [
        {"profile_id": pid, "product_id": product.id, "unit_code": unit, "quantity": 1}
        for pid in ids for unit in ("each", "case")])
    refresh_cycle_pv(session, every_profile=True)  # bulk inserts bypass the services
    session.commit()


def wait_until_someone_waits_for(blocker, timeout: float = 60) -> None:
    """Until another connection waits for a lock that ``blocker`` holds (read in a transaction
    of its own each time: pg_stat_activity is read once per transaction)."""
    pid = blocker.scalar(text("SELECT pg_backend_pid()"))
    deadline = time.monotonic() + timeout
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        while time.monotonic() < deadline:
            if watcher.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}):
                return
            time.sleep(0.05)
    raise AssertionError("nothing came to wait for the held row")


def chunked_worker_env(app) -> dict:
    return worker_env(app, PORTAL_AUTOSHIP_CHUNK_SIZE=str(app.config["AUTOSHIP_CHUNK_SIZE"]))


def start_worker(app, *args, **settings: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs.worker", *args], env={**chunked_worker_env(app), **settings},
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def burst(app, *queues: str, **settings: str) -> None:
    worker = start_worker(app, "--burst", *(queues or ("default", "billing")), **settings)  # mail is not under test
    _, errors = worker.communicate(timeout=240)
    assert worker.returncode == 0, errors.decode()[-3000:]


def descendants(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        for child in children.read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a worker and everything it started: RQ puts each work horse in a process group
    of its own, so killing the worker's group alone would leave the job running."""
    everything = [process.pid, *descendants(process.pid)]
    os.killpg(process.pid, signal.SIGKILL)
    for pid in everything:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)


def exactly_once(session, due: int) -> None:
    session.expire_all()
    per_profile = session.execute(select(Order.autoship_profile_id, func.count()).where(
        Order.autoship_due_date == AS_OF).group_by(Order.autoship_profile_id)).all()
    assert len(per_profile) == due and {count for _, count in per_profile} == {1}
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 2 * due
    assert session.scalar(select(func.count()).select_from(AutoshipProfile).where(
        AutoshipProfile.next_run_date == date(2027, 1, 1))) == due
    session.close()  # no open transaction (no locks held) while others work


def snapshot(session) -> list[tuple]:
    session.expire_all()
    return session.execute(text(
        "SELECT o.id, o.autoship_profile_id, o.autoship_due_date, o.total, o.status, "
        "(SELECT COUNT(*) FROM order_lines l WHERE l.order_id = o.id) FROM orders o ORDER BY o.id")).all()


@pytest.fixture
def chunk_size(app):
    before = app.config["AUTOSHIP_CHUNK_SIZE"]

    def set_size(size: int) -> None:
        app.config["AUTOSHIP_CHUNK_SIZE"] = size
    yield set_size
    app.config["AUTOSHIP_CHUNK_SIZE"] = before


@pytest.fixture
def small_chunks(chunk_size):
    chunk_size(200)


def test_a_worker_killed_mid_chunk_leaves_every_order_exactly_once(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 600)
    run = runs.start_and_enqueue(session, as_of=AS_OF, trigger="test", config=app.config)
    session.commit()
    run_id = run.id
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
    wait_until_someone_waits_for(blocker)
    kill(worker)
    blocker.rollback()
    blocker.close()
    # RQ cannot finish what a SIGKILL interrupted: the operator (or the admin button) re-runs
    # the unfinished chunks, and the other chunks are still queued.
    runs.retry_failed_chunks(db.session, run_id)
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
    processes = [subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [process.communicate(timeout=240) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err.decode()[-2000:] for _, err in outputs]
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
        runs.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
        db.session.commit()
        burst(app)
        states.append(snapshot(db.session))
    assert states[0] == states[1] == states[2] and len(states[0]) == 300


def test_redis_flushed_mid_run_then_run_again_loses_and_duplicates_nothing(app, session, member, product, small_chunks):
    seed_due_profiles(session, member, product, 600)
    session.close()
    runs.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
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
    runs.start_and_enqueue(db.session, as_of=AS_OF, trigger="test", config=app.config)
    db.session.commit()
    burst(app)
    exactly_once(db.session, 600)


def sandbox_ledger(redis) -> dict[int, list[dict]]:
    """What the sandbox gateway charged, per order (its keys are order-<id>-charge-<n>)."""
    ledger: dict[int, list[dict]] = {}
    for key in redis.scan_iter(f"{SandboxGateway.KEY_PREFIX}charge:order-*"):
        order_id = int(key.decode().split("order-")[1].split("-charge-")[0])
        ledger.setdefault(order_id, []).append(json.loads(redis.get(key)))
    return ledger


def wait_for_hold(redis, point: str) -> int:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        reached = redis.blpop([hold_points.reached_key(point)], timeout=1)
        if reached is not None:
            return int(reached[1])
    raise AssertionError(f"no worker reached the hold point {point}")


def wait_until_finished(app, job_ids: list[str], worker: subprocess.Popen) -> list:
    queue = get_queue("billing", app)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        jobs = [queue.fetch_job(job_id) for job_id in job_ids]
        if all(job.get_status() == "finished" for job in jobs):
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"jobs not finished: {[(job.id, job.get_status()) for job in jobs]}")


def alive(pid: int) -> bool:
    """False once the process is gone or a zombie (killed, not yet reaped by its parent)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        except OSError:
            return False
        time.sleep(0.05)
    return True


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)  # a warm shutdown: the worker finishes its job, if any
    process.wait(timeout=60)


@pytest.mark.parametrize("killed", ["the work horse", "the whole worker"])
def test_a_worker_killed_between_the_gateway_call_and_the_commit_charges_each_order_exactly_once(
        app, session, redis, member, product, chunk_size, killed):
    chunk_size(20)
    declining = make_card(session, member, redis, number="4000000000000002").id
    seed_due_profiles(session, member, product, 60, cards=[member.card.id, member.card.id, declining])
    run_id = runs.start_and_enqueue(session, as_of=AS_OF, trigger="test", config=app.config).id
    session.commit()
    session.close()
    burst(app, "default")  # three chunks materialised; their three charge jobs wait on "billing"
    order_ids = db.session.scalars(select(Order.id).order_by(Order.id)).all()
    db.session.close()
    assert len(order_ids) == 60 and len(get_queue("billing", app).get_job_ids()) == 3

    worker = start_worker(app, "billing", PORTAL_TEST_HOLD_AT=hold_points.AFTER_GATEWAY_CALL)
    try:
        horse = wait_for_hold(redis, hold_points.AFTER_GATEWAY_CALL)
        # Held right after the gateway call: one chunk's cards are charged, nothing is recorded.
        held = sorted(sandbox_ledger(redis))
        assert len(held) == 20
        assert set(db.session.scalars(select(Order.status).where(Order.id.in_(held)))) == {"pending_payment"}
        assert set(db.session.scalars(select(ChargeAttempt.outcome).where(
            ChargeAttempt.order_id.in_(held)))) == {"pending"}
        db.session.close()
        if killed == "the work horse":
            # The worker sees its work horse die and RQ retries the job (CHARGE_RETRY); the
            # retry finds the pending attempts and sends them again with their keys.
            os.kill(horse, signal.SIGKILL)
            assert not alive(horse)
            jobs = wait_until_finished(app, [f"autoship-charge-{run_id}-{n}" for n in range(3)], worker)
            assert sorted(job.retries_left for job in jobs) == [2, 3, 3]
        else:
            # The machine is gone: the job stays "started" in RQ, a new worker charges the
            # other chunks, and the cron tick sends the stale pending attempts again.
            kill(worker)
            assert not alive(horse)
            burst(app, "billing")
            db.session.expire_all()
            assert set(db.session.scalars(select(Order.status).where(Order.id.in_(held)))) == {"pending_payment"}
            db.session.close()
            get_queue("default", app).enqueue("jobs.autoship.retry_payments")
            burst(app, "default", PORTAL_PAYMENT_STALE_MINUTES="0")
    finally:
        if worker.poll() is None:
            stop(worker)

    ledger = sandbox_ledger(redis)
    assert sorted(ledger) == order_ids and {len(charges) for charges in ledger.values()} == {1}
    db.session.expire_all()
    orders = db.session.scalars(select(Order).order_by(Order.id)).all()
    paid = [o for o in orders if o.status == "paid"]
    declined = [o for o in orders if o.status == "payment_failed"]
    assert (len(paid), len(declined)) == (40, 20)
    assert all(o.charge_id == ledger[o.id][0]["id"] and ledger[o.id][0]["status"] == "succeeded" for o in paid)
    assert {o.payment_method_id for o in declined} == {declining}
    assert all(o.next_payment_retry_on is not None for o in declined)
    assert {ledger[o.id][0]["status"] for o in declined} == {"declined"}
    attempts = db.session.execute(select(ChargeAttempt.order_id, ChargeAttempt.outcome)).all()
    assert sorted(order_id for order_id, _ in attempts) == order_ids
    assert "pending" not in {outcome for _, outcome in attempts}
