"""The autoship engine with one-time lines: 100,000 due profiles (quick: 20,000), a tenth of
them carrying one or two one-time lines ("this time only"), against the same run without
them, on the same data.

Each round runs the engine (chunk jobs on one real RQ worker process, started beforehand, as
in ``bench_autoship``) twice: first with no one-time line anywhere, then with the lines added
to every tenth profile; the ratio of the two times is taken within the round, and the median
over three rounds is reported. After the second run every line must be settled into its
profile's order (the run is checked, not only timed).
"""

from __future__ import annotations

import statistics
import time

from sqlalchemy import text

from bench import bench_autoship as engine_bench

SHARE = 10  # every tenth profile carries one-time lines

ONE_TIME_LINES = """
INSERT INTO autoship_one_time_lines (profile_id, product_id, unit_code, quantity, run_date, status,
    idempotency_key, added_by, added_at)
SELECT p.id, pr.id, 'each', 1 + (p.id + n) % 2, p.next_run_date, 'pending',
       'bench-one-time-' || p.id || '-' || n, p.user_id, now()
FROM autoship_profiles p
CROSS JOIN generate_series(1, 2) AS n
JOIN LATERAL (SELECT id FROM products ORDER BY id OFFSET (p.id * 7 + n) % 40 LIMIT 1) pr ON true
WHERE p.id % :share = 0 AND (n = 1 OR p.id % (2 * :share) = 0)
"""


def run(ctx) -> list[dict]:
    if "postgresql" not in ctx.backends:
        return []
    profiles = 20_000 if ctx.quick else 100_000
    url = ctx.postgres_url("autoship_one_time")
    app = ctx.make_app(url)
    rounds = 1 if ctx.quick else 3
    without, with_lines, ratios = [], [], []
    rows = []
    with app.app_context():
        from portal.extensions import db
        ctx.log(f"autoship with one-time lines: seeding {profiles:,} due profiles")
        started = time.perf_counter()
        items = engine_bench._seed(db.session, profiles)
        rows.append(engine_bench._row(
            f"one-time lines: seed {profiles:,} due profiles ({items:,} items)",
            round(time.perf_counter() - started, 1), "s", "as the autoship benchmark seeds them"))
        for _ in range(rounds):
            _reset(db.session, with_lines=False)
            with engine_bench._load_average() as load:
                rate, seconds, *_ = engine_bench._engine_with_workers(ctx, app, url, 1)
            without.append((rate, f"{seconds:.2f} s, {load}"))
            lines = _reset(db.session, with_lines=True)
            with engine_bench._load_average() as load:
                rate_with, seconds_with, *_ = engine_bench._engine_with_workers(ctx, app, url, 1)
            with_lines.append((rate_with, f"{seconds_with:.2f} s, {load}"))
            _check_settled(db.session, lines)
            ratios.append(seconds_with / seconds)
        db.session.remove()

    rows.append(engine_bench._row(f"engine without one-time lines: {profiles:,} profiles",
                                  round(engine_bench._median(without)), "orders/s",
                                  f"{engine_bench._rounds(without)}; 1 worker"))
    rows.append(engine_bench._row(
        f"engine with one-time lines on {profiles // SHARE:,} of {profiles:,} profiles",
        round(engine_bench._median(with_lines)), "orders/s",
        f"{engine_bench._rounds(with_lines)}; 1 worker; {lines:,} one-time lines, all settled"))
    rows.append(engine_bench._row("engine with one-time lines / without", round(statistics.median(ratios), 2),
                                  "x the time", f"{engine_bench._spread(ratios, '.2f')}goal: at most 1.2x"))
    return rows


def _reset(session, *, with_lines: bool) -> int:
    """The autoship benchmark's reset (its TRUNCATE of the orders takes the one-time lines with
    it), then the one-time lines again when asked; returns how many."""
    engine_bench._reset(session)
    session.execute(text("TRUNCATE autoship_one_time_lines RESTART IDENTITY"))
    count = 0
    if with_lines:
        count = session.execute(text(ONE_TIME_LINES), {"share": SHARE}).rowcount
    session.commit()
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) autoship_one_time_lines"))
    return count


def _check_settled(session, lines: int) -> None:
    shipped, pending = session.execute(text(
        "SELECT count(*) FILTER (WHERE status = 'shipped' AND order_id IS NOT NULL), "
        "count(*) FILTER (WHERE status = 'pending') FROM autoship_one_time_lines")).one()
    session.rollback()
    assert (shipped, pending) == (lines, 0), (shipped, pending, lines)
