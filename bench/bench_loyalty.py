"""Awarding loyalty points for a run's orders, set-based (``portal.loyalty.ledger.award_points``).

100,000 synthetic members (quick: 10,000), each with an active standing order and up to 14
months of earlier paid standing-order orders (so that the month counts are real: streaks of
every length, gaps, orders below the minimum PV), then one paid order each for today's run.
Measured: one ``award_points`` call over the 100,000 run orders (the one statement that reads
every person's qualifying months, counts the streaks, inserts the ledger rows and moves the
balances), then committed; three rounds, the ledger and balances emptied between them.
Goal: under 10 s on PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import date
from time import perf_counter
from typing import Any

from sqlalchemy import delete, func, select, text

from bench.rows import on_each_backend, people_label, result_row
from bench.seeding import insert_in_batches, payers, profile_row, timed_tree, vacuum_analyze

ROUNDS = 3
GOAL_SECONDS = 10
ZONE = "America/Chicago"


def run(ctx: Any) -> list[dict]:
    people = 10_000 if ctx.quick else 100_000
    return on_each_backend(ctx, measure_backend, f"award points for {people_label(people)} orders", people)


def seed_orders(session, run_day: str) -> None:
    """Earlier months' paid standing-order orders (0-14 per person, a month apart, some gaps and
    some below 50 PV) and one order per person paid on ``run_day``: INSERT ... SELECT from the
    people's profiles, addresses and cards."""
    session.execute(text("""
        INSERT INTO orders (user_id, status, source, placed_at, updated_at, address_id, ship_moniker,
            ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
            destination_key, payment_method_id, payment_label, paid_at, autoship_profile_id,
            autoship_due_date, payment_attempts, subtotal, shipping_fee, total, pv_total, bv_total)
        SELECT p.user_id, 'paid', 'autoship', d.day, d.day, a.id, a.moniker, a.full_name, a.line1,
               a.line2, a.city, a.region, a.postal_code, a.country, a.destination_key, c.id, 'Visa 4242',
               d.day + interval '15 hours', p.id, d.day::date, 1,
               s.subtotal, 0, s.subtotal, s.pv, s.pv
        FROM autoship_profiles p
        JOIN addresses a ON a.id = p.address_id
        JOIN payment_methods c ON c.id = p.payment_method_id
        CROSS JOIN LATERAL (SELECT generate_series(0, p.id % 15) AS back) b
        CROSS JOIN LATERAL (SELECT CAST(:run_day AS date) - make_interval(months => b.back) AS day) d
        CROSS JOIN LATERAL (SELECT 2000 + (p.id * 37 + b.back * 11) % 18000 AS subtotal,
                                   CASE WHEN (p.id + b.back) % 9 = 0 THEN 3000 ELSE 6000 END AS pv) s
        WHERE b.back = 0 OR (p.id + b.back) % 7 <> 0
    """), {"run_day": run_day})


def measure_backend(ctx: Any, backend: str, people: int) -> list[dict]:
    from portal.autoship.models import AutoshipProfile
    from portal.extensions import db
    from portal.loyalty.ledger import award_points
    from portal.loyalty.models import PointsAccount, PointsEntry
    from portal.loyalty.program import current_program
    from portal.orders.models import Order

    app = ctx.make_app(ctx.database_url(backend, f"loyalty_{people}"))
    name = f"award points for {people_label(people)} orders"
    with app.app_context():
        session = db.session
        summary, tree_seconds = timed_tree(ctx, name, backend, session, people)
        started = perf_counter()
        insert_in_batches(session, AutoshipProfile,
                          (profile_row(user, address, card, name="Monthly", rrule="FREQ=MONTHLY;INTERVAL=1",
                                       anchor_date="2026-01-15", next_run_date="2027-04-15")
                           for user, address, card in payers(session)), 20_000)
        seed_orders(session, "2027-03-15")
        session.commit()
        vacuum_analyze(session, "orders", "autoship_profiles")
        run_ids = session.scalars(select(Order.id).where(Order.autoship_due_date == date(2027, 3, 15))
                                  .order_by(Order.id)).all()
        history = session.scalar(select(func.count(Order.id)))
        seeded = perf_counter() - started
        ctx.log(f"{name} [{backend}]: {len(run_ids):,} run orders, {history:,} orders in all ({seeded:.1f} s)")
        program = current_program(session)
        rounds = []
        for _ in range(ROUNDS):
            session.execute(delete(PointsEntry))
            session.execute(delete(PointsAccount))
            session.commit()
            load_before = os.getloadavg()[0]
            started = perf_counter()
            moved = award_points(session, run_ids, program=program, timezone=ZONE)
            session.commit()
            seconds = perf_counter() - started
            rounds.append((seconds, load_before, os.getloadavg()[0], moved))
        entries = session.scalar(select(func.count(PointsEntry.id)))
        streaks = session.execute(select(PointsEntry.streak_months, func.count()).group_by(PointsEntry.streak_months)
                                  .order_by(PointsEntry.streak_months)).all()
    median = sorted(r[0] for r in rounds)[len(rounds) // 2]
    detail = "; ".join(f"{s:.2f} s (load average {a:.1f} -> {b:.1f})" for s, a, b, _ in rounds)
    return [
        result_row(name, backend, round(median, 2), "s",
                   f"median of {ROUNDS} rounds: {detail}; one statement; {entries:,} ledger rows, "
                   f"{rounds[-1][3]:,} balances; {history:,} orders in the table; month counts "
                   f"{', '.join(f'{m}: {n:,}' for m, n in streaks[:16])}; goal: under {GOAL_SECONDS} s"),
        result_row(f"seed {people:,} people and {history:,} orders", backend,
                   round(tree_seconds + seeded, 1), "s", summary[:200]),
    ]
