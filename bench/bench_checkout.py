"""Checkout throughput through the real service path, one order after another.

Per backend: 300 synthetic members (``seed_synthetic``: a Home address and a sandbox Visa each)
and the 30 demo products. Each order is one "request": a fresh session loads the member, puts 3
products in the cart (``add_to_cart``), checks out (``check_out`` with the SandboxGateway on the
bench Redis, which records the charge there) and commits; the commit enqueues the confirmation
mail job in RQ. 2,000 orders (quick: 300) after 20 warm-up orders.

Reported: orders per second over the whole run, and the p50/p95 latency of the full cycle
(cart + checkout + commit) and of ``check_out`` + commit alone.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from random import Random
from time import perf_counter
from typing import Any

from sqlalchemy import event, func, select

from bench.rows import on_each_backend
from bench.seeding import demo_products, payers

SEED = 7
MEMBERS = 300
LINES_PER_ORDER = 3
WARMUP_ORDERS = 20


def run(ctx: Any) -> list[dict]:
    orders = 300 if ctx.quick else 2_000
    return on_each_backend(ctx, measure_backend, f"{orders:,} checkouts", orders)


def seed_shop(session) -> tuple[list[tuple[int, int, int]], list[int]]:
    """Members (user id, address id, card id) and product ids, committed."""
    from portal.seed.synthetic import seed_synthetic

    seed_synthetic(session, count=MEMBERS, seed=SEED)
    products = demo_products(session, bv_share=Decimal("0.8"), on_hand=1_000_000)
    product_ids = [product.id for product in products]
    members = payers(session)
    session.commit()
    return members, product_ids


def measure_backend(ctx: Any, backend: str, orders: int) -> list[dict]:
    from rq import Queue

    from portal.accounts.models import User
    from portal.cart.services import add_to_cart
    from portal.checkout.services import check_out
    from portal.clock import company_today
    from portal.extensions import db
    from portal.orders.models import Order
    from portal.orders.pricing import shipping_rule
    from portal.payments.gateway import SandboxGateway
    from portal.queues import get_redis

    app = ctx.make_app(ctx.database_url(backend, "checkout"))
    redis = get_redis(app)
    run_id = secrets.token_hex(4)  # charges are keyed by idempotency key in the shared Redis
    with app.app_context():
        members, product_ids = seed_shop(db.session)
        db.session.remove()
        gateway = SandboxGateway(redis)
        shipping = shipping_rule(app.config)
        max_quantity = app.config["MAX_LINE_QUANTITY"]
        today = company_today()
        rng = Random(SEED)

        def place(number: int) -> tuple[float, float]:
            user_id, address_id, card_id = members[number % len(members)]
            started = perf_counter()
            session = db.session
            user = session.get(User, user_id)
            for product_id in rng.sample(product_ids, LINES_PER_ORDER):
                add_to_cart(session, user=user, product_id=product_id, unit_code="each",
                            quantity=rng.randint(1, 3), max_quantity=max_quantity)
            checkout_started = perf_counter()
            check_out(session, user=user, address_id=address_id, card_id=card_id,
                      idempotency_key=f"bench-{run_id}-{number}", gateway=gateway,
                      shipping=shipping, today=today)
            session.commit()
            finished = perf_counter()
            db.session.remove()  # the end of the request
            return (finished - started) * 1000, (finished - checkout_started) * 1000

        for number in range(WARMUP_ORDERS):
            place(number)
        cycles, checkouts = [], []
        statements = []

        def count_statement(*args) -> None:
            statements.append(1)

        event.listen(db.engine, "before_cursor_execute", count_statement)
        ctx.log(f"checkout [{backend}]: placing {orders:,} orders")
        started = perf_counter()
        try:
            for number in range(WARMUP_ORDERS, WARMUP_ORDERS + orders):
                cycle, checkout = place(number)
                cycles.append(cycle)
                checkouts.append(checkout)
        finally:
            event.remove(db.engine, "before_cursor_execute", count_statement)
        seconds = perf_counter() - started

        placed = db.session.scalar(select(func.count()).select_from(Order)
                                   .where(Order.status == "paid"))
        db.session.remove()
        assert placed == WARMUP_ORDERS + orders, f"{placed} paid orders"
        for key in redis.scan_iter(f"{SandboxGateway.KEY_PREFIX}charge:checkout:bench-{run_id}-*",
                                   count=1000):
            redis.delete(key)
        Queue("mail", connection=redis).delete(delete_jobs=True)

    where = f"{orders:,} orders by {len(members)} members, {LINES_PER_ORDER} lines each"
    return [
        {"name": f"{orders:,} checkouts: throughput", "backend": backend,
         "value": round(orders / seconds, 1), "unit": "orders/s",
         "notes": f"{where}; one session and commit per order, sequential; "
                  f"{len(statements) / orders:.0f} SQL statements per order"},
        {"name": f"{orders:,} checkouts: cart + check_out + commit", "backend": backend,
         "value": round(ctx.percentile(cycles, 0.5), 2), "unit": "ms median",
         "notes": f"p95 {ctx.percentile(cycles, 0.95):.2f} ms; 3x add_to_cart, check_out "
                  "(sandbox charge in Redis, outbox row), commit (+ RQ mail job)"},
        {"name": f"{orders:,} checkouts: check_out + commit", "backend": backend,
         "value": round(ctx.percentile(checkouts, 0.5), 2), "unit": "ms median",
         "notes": f"p95 {ctx.percentile(checkouts, 0.95):.2f} ms"},
    ]
