"""How long withdrawing a product (and putting it back on sale) takes when many standing
orders hold it, and how long the nightly recompute of every profile's cycle PV takes.

    python -m bench.cycle_pv_product_change DATABASE_URL [--profiles 100000] [--holding 25000]

Seeds ``--profiles`` standing orders (1-4 items of 40 products in eaches, cases and lots, a
tenth price-locked, some items with a locked PV) of which ``--holding`` hold the measured
product, unless the database already holds profiles. Then,
``--rounds`` times: withdraw and commit, as the admin's request does, then the job's
recompute and commit; the same to put it back on sale. Then every profile recomputed with
nothing stale, with 1,000 values corrupted, and with nothing stale again. Wall times.

Not part of ``make bench``: it takes the database URL (the schema is migrated; it writes
profiles, items, people and products), so that a scratch database of one's own can be used.
Set ``REDIS_URL`` (each withdrawal enqueues its job: the script runs it in-process and then
takes those jobs off the queue) and ``PORTAL_INSTANCE_PATH``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, text, update

from bench.seeding import (insert_standing_orders, numbered_products, payers, profile_row,
                           vacuum_analyze)

AS_OF = date(2026, 12, 1)
SKU = "CYCLE-0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cycle_pv_product_change")
    parser.add_argument("database_url")
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--holding", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url,
                      "SECRET_KEY": "bench-only-not-secret"})
    with app.app_context():
        upgrade(revision="heads")
        session = db.session
        if not session.scalar(select(func.count()).select_from(text("autoship_profiles"))):
            started = time.perf_counter()
            seed(session, args.profiles, args.holding)
            print(f"seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        measure(session, args.rounds)
        db.session.remove()
    return 0


def seed(session, profiles: int, holding: int) -> None:
    from portal.catalog.models import Product
    from portal.seed.synthetic import seed_synthetic

    seed_synthetic(session, count=max(1000, profiles // 4), seed=7, progress=lambda n: None)
    numbered_products(session, "CYCLE", "Cycle product", range(40), each_pv=Decimal("5.00"),
                      pv_step=Decimal(1), each_bv=Decimal("4.00"))
    session.commit()
    measured, *others = session.scalars(select(Product.id).where(Product.sku.like("CYCLE-%"))
                                        .order_by(Product.id)).all()
    owners = payers(session)
    rng = random.Random(3)

    def profile_rows():
        for n in range(profiles):
            yield profile_row(*owners[n % len(owners)], name=f"Cycle {n}",
                              rrule="FREQ=MONTHLY;INTERVAL=1", anchor_date=AS_OF,
                              next_run_date=AS_OF,
                              price_policy="locked" if rng.random() < 0.1 else "run_time")

    def items_for(ids):
        holders = set(rng.sample(range(len(ids)), holding))
        for n, profile_id in enumerate(ids):
            products = rng.sample(others, rng.randint(0 if n in holders else 1, 3))
            if n in holders:
                products.append(measured)
            for product_id in products:
                pv = Decimal("5.00") * rng.randint(1, 12) if rng.random() < 0.3 else None
                yield {"profile_id": profile_id, "product_id": product_id,
                       "unit_code": rng.choice(("each", "each", "case", "lot")),
                       "quantity": rng.randint(1, 3), "locked_pv": pv}

    insert_standing_orders(session, profile_rows(), items_for)
    vacuum_analyze(session, "autoship_profiles", "autoship_items", "products", "product_units")


def measure(session, rounds: int) -> None:
    from portal.autoship.models import AutoshipItem, AutoshipProfile
    from portal.autoship.volume import refresh_cycle_pv
    from portal.catalog.models import Product
    from portal.catalog.services import set_product_active
    from portal.queues import get_queue

    product_id = session.scalar(select(Product.id).where(Product.sku == SKU))
    holding = session.scalar(select(func.count(func.distinct(AutoshipItem.profile_id)))
                             .where(AutoshipItem.product_id == product_id))
    total = session.scalar(select(func.count()).select_from(AutoshipProfile))
    session.commit()
    request, job, changed = {False: [], True: []}, {False: [], True: []}, set()
    for _ in range(rounds):
        for active in (False, True):
            started = time.perf_counter()
            set_product_active(session, product_id, active)  # the admin's request
            session.commit()
            request[active].append(time.perf_counter() - started)
            started = time.perf_counter()
            changed.add(refresh_cycle_pv(session, product_ids=[product_id]))  # its job
            session.commit()
            job[active].append(time.perf_counter() - started)
    for active, label in ((False, "withdraw"), (True, "back on sale")):
        for what, samples in (("request", request[active]), ("job", job[active])):
            print(f"{label}, {what} ({holding:,} of {total:,} profiles hold it): median "
                  f"{statistics.median(samples) * 1000:,.0f} ms "
                  f"({', '.join(f'{s * 1000:,.0f}' for s in samples)})")
    print(f"profiles changed per job: {sorted(changed)}")
    for queued in get_queue("default").jobs:  # run above already
        if queued.func_name == "jobs.autoship.refresh_product_cycle_pv" and list(queued.args) == [product_id]:
            queued.delete()
    for stale in (0, 1000, 0):
        ids = session.scalars(select(AutoshipProfile.id).order_by(AutoshipProfile.id).limit(stale)).all()
        session.execute(update(AutoshipProfile).where(AutoshipProfile.id.in_(ids))
                        .values(cycle_pv=Decimal("0.01")))
        session.commit()
        started = time.perf_counter()
        fixed = refresh_cycle_pv(session, every_profile=True)
        session.commit()
        print(f"recompute every profile, {stale:,} stale: "
              f"{(time.perf_counter() - started) * 1000:,.0f} ms ({fixed:,} changed)")


if __name__ == "__main__":
    sys.exit(main())
