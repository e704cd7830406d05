"""The autoship engine on PostgreSQL: due profiles materialised into orders per second.

Beside the engine, in the same run and on the same data:
* the raw lower bound: one hand-written INSERT ... SELECT for the orders and one for their
  lines, straight from the profiles (no dates computed, nothing recorded, no chunks);
* a naive per-profile ORM loop (load the profile, price it, build the order, advance the
  date, one flush per profile) on a 2,000-profile sample.
The engine runs as it does in production: chunk jobs on real RQ worker processes, 1 and 2,
started (and idle on the queue) before the run begins, as long-running workers are; the time
is from starting the run (start_run and the enqueues included) to the last chunk's commit.
Each figure carries the one-minute load average before and after it: the machine is shared.
A full run repeats the measurements in three rounds and reports medians, each ratio taken
within a round. ``BENCH_AUTOSHIP_LARGE=1000000`` adds one round of the engine (1 worker) and
the raw bound at that size.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

from sqlalchemy import select, text

from bench.rows import result_row
from bench.seeding import insert_standing_orders, numbered_products, payers, profile_row

AS_OF = date(2026, 12, 1)
SAMPLE = 2000


def run(ctx) -> list[dict]:
    if "postgresql" not in ctx.backends:
        return []
    rows = _measure(ctx, "autoship", 20_000 if ctx.quick else 100_000, everything=True)
    large = int(os.environ.get("BENCH_AUTOSHIP_LARGE", "0"))
    if large:  # e.g. 1000000: the engine with one worker and the raw bound only
        rows += _measure(ctx, "autoship_large", large, everything=False)
    return rows


def _measure(ctx, database: str, profiles: int, *, everything: bool) -> list[dict]:
    """Seed, then rounds of: the engine with 1 (and 2) workers, the raw bound (and the naive
    loop). The machine is shared and its load drifts, so each ratio is taken within a round
    (minutes apart at most) and the median over the rounds is reported."""
    url = ctx.postgres_url(database)
    app = ctx.make_app(url)
    size = "" if everything else f" ({profiles:,} profiles)"
    rounds = 3 if everything and not ctx.quick else 1
    worker_counts = (1, 2) if everything else (1,)
    engine = {workers: [] for workers in worker_counts}
    raw, naive = [], []
    rows = []
    with app.app_context():
        from portal.extensions import db
        ctx.log(f"autoship: seeding {profiles:,} due profiles")
        started = time.perf_counter()
        items = _seed(db.session, profiles)
        rows.append(_row(f"seed {profiles:,} due profiles ({items:,} items)", time.perf_counter() - started,
                         "s", "synthetic members, addresses, cards, 1-5 items each"))
        for _ in range(rounds):
            for workers in worker_counts:
                _reset(db.session)
                with _load_average() as load:
                    rate, seconds, chunks, start_up, work = _engine_with_workers(ctx, app, url, workers)
                engine[workers].append((rate, f"{seconds:.2f} s, {work:.2f} s inside materialise_chunk, "
                                              f"start-up {start_up:.1f} s not counted, {load}"))
            _reset(db.session)
            with _load_average() as load:
                raw_rate, raw_seconds = _raw_bound(db.session, profiles)
            raw.append((raw_rate, f"{raw_seconds:.2f} s, {load}"))
            if everything:
                _reset(db.session)
                with _load_average() as load:
                    naive_rate = _naive_loop(db.session, app)
                naive.append((naive_rate, str(load)))
        db.session.remove()

    for workers in worker_counts:
        rows.append(_row(f"engine, {workers} worker{'s' if workers > 1 else ''}: {profiles:,} profiles",
                         round(_median(engine[workers])), "orders/s",
                         f"{_rounds(engine[workers])}; {chunks} chunks of {app.config['AUTOSHIP_CHUNK_SIZE']}, "
                         "RQ jobs on real worker processes started beforehand"))
    rows.append(_row(f"raw INSERT ... SELECT bound: {profiles:,} orders", round(_median(raw)), "orders/s",
                     f"{_rounds(raw)}; two statements, no dates, no bookkeeping"))
    ratios = [r / e for (r, _), (e, _) in zip(raw, engine[1])]
    rows.append(_row(f"engine (1 worker) / raw bound{size}", round(statistics.median(ratios), 2), "x slower",
                     f"{_spread(ratios, '.2f')}goal: within 2.5x"))
    if everything:
        rows.append(_row(f"naive per-profile ORM loop: {SAMPLE:,}-profile sample", round(_median(naive), 1),
                         "orders/s", f"{_rounds(naive, '.1f')}; one flush per profile, one commit"))
        ratios = [e / n for (e, _), (n, _) in zip(engine[1], naive)]
        rows.append(_row("engine (1 worker) / naive loop", round(statistics.median(ratios), 1), "x faster",
                         f"{_spread(ratios, '.0f')}goal: at least 50x"))
    return rows


def _median(samples: list[tuple[float, str]]) -> float:
    return statistics.median(rate for rate, _ in samples)


def _spread(ratios: list[float], spec: str) -> str:
    if len(ratios) == 1:
        return ""
    return f"median of {len(ratios)} rounds ({', '.join(f'{r:{spec}}' for r in ratios)}); "


def _rounds(samples: list[tuple[float, str]], spec: str = ",.0f") -> str:
    if len(samples) == 1:
        return samples[0][1]
    return (f"median of {len(samples)} rounds: "
            + "; ".join(f"{rate:{spec}}/s ({detail})" for rate, detail in samples))


class _load_average:
    """The one-minute load average before and after a measurement, as text for its notes."""

    def __enter__(self):
        self.before = os.getloadavg()[0]
        return self

    def __exit__(self, *exc_info):
        self.after = os.getloadavg()[0]

    def __str__(self) -> str:
        return f"load average {self.before:.1f} -> {self.after:.1f}"


def _row(name, value, unit, notes):
    return result_row(name, "postgresql", value, unit, notes)


def _seed(session, count: int) -> int:
    from portal.catalog.models import Product
    from portal.seed.synthetic import seed_synthetic

    members = max(1000, count // 4)
    seed_synthetic(session, count=members, seed=7, ibo_share=0.3, max_depth=30, progress=lambda n: None)
    numbered_products(session, "AUTO", "Autoship product", range(40), each_pv=Decimal("7.00"),
                      pv_step=Decimal(0), each_bv=Decimal("5.00"))
    session.commit()
    users = payers(session)
    products = session.scalars(select(Product.id)).all()
    rng = random.Random(11)
    # Drawn from one generator in the same order as ever: the data of a size is the same from
    # run to run.
    rules = ["FREQ=MONTHLY;INTERVAL=1", "FREQ=WEEKLY;INTERVAL=4",
             "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=28,29,30,31;BYSETPOS=-1"]
    profiles = (profile_row(*users[n % len(users)], name=f"Bench {n}", rrule=rng.choice(rules),
                            anchor_date=AS_OF, regularity=rng.choice(["calendar", "rolling"]),
                            next_run_date=AS_OF)
                for n in range(count))

    def items_for(ids):
        for pid in ids:
            for product_id in rng.sample(products, rng.randint(1, 5)):
                yield {"profile_id": pid, "product_id": product_id, "quantity": rng.randint(1, 3),
                       "unit_code": rng.choice(["each", "each", "case", "lot"])}

    # The stored cycle PV is part of the seeding; _reset's VACUUM clears the old row versions
    # before anything is measured.
    return insert_standing_orders(session, profiles, items_for)[1]


def _reset(session) -> None:
    session.execute(text("TRUNCATE order_status_changes, order_lines, charge_attempts, orders, "
                         "autoship_runs, autoship_run_chunks, autoship_occurrences, "
                         "autoship_events RESTART IDENTITY CASCADE"))
    session.execute(text("UPDATE autoship_profiles SET next_run_date = :d, last_order_date = NULL, "
                         "status = 'active'"), {"d": AS_OF})
    session.commit()
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) orders, order_lines, autoship_profiles, autoship_items"))


def _engine_with_workers(ctx, app, url, workers: int) -> tuple[float, float, int, float, float]:
    from rq import Worker

    from portal import PROJECT_ROOT
    from portal.autoship import runs
    from portal.autoship.models import AutoshipRun
    from portal.extensions import db
    from portal.queues import get_queue, get_redis

    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=ctx.redis_url, PORTAL_ENV="test",
               PORTAL_INSTANCE_PATH=str(ctx.tmp))
    connection = get_redis(app)
    idle_before = len(Worker.all(connection=connection))
    launched = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, "-m", "jobs.worker", "default"], env=env,
                                  cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(workers)]
    try:
        while len(Worker.all(connection=connection)) < idle_before + workers:
            if any(process.poll() is not None for process in processes):
                raise RuntimeError("a worker exited at start-up")
            time.sleep(0.05)
        start_up = time.perf_counter() - launched
        started = time.perf_counter()
        run = runs.start_and_enqueue(db.session, as_of=AS_OF, trigger="bench", config=app.config)
        db.session.commit()
        run_id, chunks = run.id, run.chunks_total
        while True:
            db.session.expire_all()
            run = db.session.get(AutoshipRun, run_id)
            if run.status != "running":
                break
            db.session.rollback()
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        created, status = run.created, run.status
        work = sum(chunk.seconds or 0 for chunk in run.chunks)
        db.session.rollback()
    finally:
        for process in processes:
            process.terminate()  # a warm shutdown: idle workers exit at once
        for process in processes:
            process.wait(timeout=120)
    assert status == "done", status
    get_queue("billing", app).empty()
    get_queue("mail", app).empty()
    ctx.log(f"autoship: {workers} worker(s): {created:,} orders in {seconds:.2f} s (start-up {start_up:.1f} s)")
    return created / seconds, seconds, chunks, start_up, work


RAW_ORDERS = """
INSERT INTO orders (user_id, status, source, placed_at, updated_at, address_id, ship_moniker, ship_name,
    ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country, destination_key,
    payment_method_id, payment_label, autoship_profile_id, autoship_due_date, payment_attempts,
    subtotal, shipping_fee, total, pv_total, bv_total)
SELECT p.user_id, 'pending_payment', 'autoship', now(), now(), a.id, a.moniker, a.full_name, a.line1, a.line2,
    a.city, a.region, a.postal_code, a.country, a.destination_key, pm.id, pm.brand || ' ending ' || pm.last4,
    p.id, p.next_run_date, 0, t.subtotal, 0, t.subtotal, t.pv, t.bv
FROM autoship_profiles p
JOIN addresses a ON a.id = p.address_id
JOIN payment_methods pm ON pm.id = p.payment_method_id
JOIN (SELECT i.profile_id, SUM(u.price * i.quantity) AS subtotal, SUM(u.pv * i.quantity) AS pv,
             SUM(u.bv * i.quantity) AS bv
      FROM autoship_items i JOIN product_units u ON u.product_id = i.product_id AND u.code = i.unit_code
      GROUP BY i.profile_id) t ON t.profile_id = p.id
WHERE p.status = 'active' AND p.next_run_date <= :as_of
"""
RAW_LINES = """
INSERT INTO order_lines (order_id, product_id, sku, name, unit_code, eaches_per_unit, quantity, eaches,
    unit_price, line_total, pv, bv)
SELECT o.id, pr.id, pr.sku, pr.name, u.code, u.eaches_per_unit, i.quantity, i.quantity * u.eaches_per_unit,
    u.price, u.price * i.quantity, u.pv * i.quantity, u.bv * i.quantity
FROM orders o
JOIN autoship_items i ON i.profile_id = o.autoship_profile_id
JOIN products pr ON pr.id = i.product_id
JOIN product_units u ON u.product_id = i.product_id AND u.code = i.unit_code
"""


def _raw_bound(session, profiles: int) -> tuple[float, float]:
    started = time.perf_counter()
    created = session.execute(text(RAW_ORDERS), {"as_of": AS_OF}).rowcount
    session.execute(text(RAW_LINES))
    session.commit()
    seconds = time.perf_counter() - started
    assert created == profiles, (created, profiles)
    return created / seconds, seconds


def _naive_loop(session, app) -> float:
    from portal.accounts.models import User
    from portal.addresses.models import Address
    from portal.autoship.models import AutoshipProfile
    from portal.autoship.profiles import priced_items, schedule_of
    from portal.orders.pricing import shipping_rule
    from portal.orders.services import build_order
    from portal.payments.models import PaymentMethod

    ids = session.scalars(select(AutoshipProfile.id).order_by(AutoshipProfile.id).limit(SAMPLE)).all()
    shipping = shipping_rule(app.config)
    started = time.perf_counter()
    for profile_id in ids:
        profile = session.get(AutoshipProfile, profile_id)
        lines, _ = priced_items(profile)
        order = build_order(user=session.get(User, profile.user_id), source="autoship", lines=lines,
                            address=session.get(Address, profile.address_id),
                            card=session.get(PaymentMethod, profile.payment_method_id), shipping=shipping)
        order.autoship_profile_id, order.autoship_due_date = profile.id, profile.next_run_date
        session.add(order)
        profile.next_run_date = schedule_of(profile).following(profile.next_run_date)
        session.flush()
    session.commit()
    return len(ids) / (time.perf_counter() - started)
