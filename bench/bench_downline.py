"""Team (downline) views on a synthetic genealogy of 1,000,000 people (quick: 100,000).

For each backend: ``seed_synthetic`` builds the tree (depth up to 30); then 40% of the people
get standing orders, inserted set-based in bulk (85% active, 5% each paused, payment failed
and cancelled; 1-3 items each; monthly, 4-weekly or month-end rules, calendar or rolling, next
runs spread over the coming 60 days), then their stored cycle PV in one UPDATE, as any bulk
loader must. The orders table stays empty (the "days since last order"
sub-query then finds nothing quickly; with orders it is one probe of ix_orders_user_id_placed_at
per row shown).

Then on the IBO whose downline is closest to a tenth of everybody (100,000; quick: 10,000)
the real functions of ``portal.downline`` are timed (median of 20 calls after 3 warm-up
calls, 10 in a full run; notes give p95):

* the first page (50 people, tree order) and filtered pages (status active at level 2;
  active with a next run in the coming 14 days; a name search);
* the first page sorted by next run, by PV and by name (these sort the whole downline);
* the totals and three-month forecast; the first page of the attention list;
* the CSV export of ~100,000 rows (rows/s, through the view's CSV writer; on the IBO closest
  to 100,000 descendants);
* one HTTP request for the first page through the Flask test client (server time including
  login check, template and the navigation's queries), and the statements per page for pages
  of 10 and 50 rows, which must be equal.

Goals: pages under 100 ms, totals under 500 ms, export over 20,000 rows/s.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from decimal import Decimal
from time import perf_counter
from typing import Any

from sqlalchemy import event, select

from bench.rows import on_each_backend, people_label, result_row
from bench.seeding import (insert_standing_orders, nearest_downline, numbered_products, payers,
                           profile_row, timed_tree, vacuum_analyze)

SEED = 1
ON_AUTOSHIP = 0.4
REPEAT = 20
RULES = ("FREQ=MONTHLY;INTERVAL=1", "FREQ=WEEKLY;INTERVAL=4", "FREQ=MONTHLY;INTERVAL=2",
         "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=28,29,30,31;BYSETPOS=-1")


def run(ctx: Any) -> list[dict]:
    people = 100_000 if ctx.quick else 1_000_000
    return on_each_backend(ctx, measure_backend, f"{people_label(people)} people", people)


def seed_profiles(session, today: date, share: float = ON_AUTOSHIP) -> tuple[int, int]:
    """Standing orders for ``share`` of everybody with an address and a card, in bulk."""
    from portal.catalog.models import Product

    numbered_products(session, "TEAM", "Team product", range(29), each_pv=Decimal("5.00"),
                      pv_step=Decimal(1), each_bv=Decimal("4.00"))
    numbered_products(session, "TEAM", "Team product", range(29, 30), each_pv=Decimal("5.00"),
                      pv_step=Decimal(1), each_bv=Decimal("4.00"), on_hand=50)
    session.commit()
    products = session.scalars(select(Product.id).order_by(Product.id)).all()
    rng = random.Random(SEED)
    statuses = ["active"] * 17 + ["paused", "payment_failed", "cancelled"]

    def profiles():
        for user_id, address_id, card_id in payers(session):
            if rng.random() >= share:
                continue
            status = rng.choice(statuses)
            first = today + timedelta(days=rng.randrange(0, 60))
            yield profile_row(user_id, address_id, card_id, name="Monthly essentials",
                              status=status, rrule=rng.choice(RULES), anchor_date=first,
                              regularity=rng.choice(("calendar", "calendar", "rolling")),
                              next_run_date=first if status == "active" else None)

    def items_for(ids):
        for profile_id in ids:
            for product_id in rng.sample(products, rng.randint(1, 3)):
                yield {"profile_id": profile_id, "product_id": product_id,
                       "quantity": rng.randint(1, 3),
                       "unit_code": rng.choice(("each", "each", "each", "case"))}

    return insert_standing_orders(session, profiles(), items_for)


def _analyze(session) -> None:
    session.commit()
    vacuum_analyze(session, "autoship_profiles", "autoship_items", "products", "product_units",
                   "stock_levels")


def measure_backend(ctx: Any, backend: str, people: int) -> list[dict]:
    from bench.bench_genealogy import downline_sizes, sponsor_links
    from portal.accounts.models import User
    from portal.genealogy.queries import in_downline_of
    from portal.clock import company_today
    from portal.downline.attention import attention_page
    from portal.downline.listing import TeamFilters, team_page
    from portal.downline.totals import team_totals
    from portal.extensions import db

    label = people_label(people)
    app = ctx.make_app(ctx.database_url(backend, "downline"))
    rows: list[dict] = []
    with app.app_context():
        session = db.session
        today = company_today()
        _, people_seconds = timed_tree(ctx, "downline", backend, session, people)
        started = perf_counter()
        profiles, items = seed_profiles(session, today)
        _analyze(session)
        rows.append(result_row(f"{label} people: seed standing orders", backend,
                         round(perf_counter() - started, 1), "s",
                         f"{profiles:,} profiles, {items:,} items, bulk inserts + stored cycle PV "
                         "+ ANALYZE "
                         f"(the people took {people_seconds:.0f} s)"))

        sizes = downline_sizes(sponsor_links(session))
        ancestor_id = nearest_downline(sizes, people // 10)
        exporter_id = nearest_downline(sizes, 100_000)
        ancestor = session.get(User, ancestor_id)
        where = f"downline of {sizes[ancestor_id]:,} (depth {ancestor.depth})"
        ctx.log(f"downline [{backend}]: {where}")
        session.commit()

        def page(**filters):
            def call():
                result = team_page(session, ancestor, TeamFilters(**filters), size=50)
                assert result.rows
            return call

        rng = random.Random(SEED)
        name = session.scalar(select(User.last_name).where(in_downline_of(ancestor.tree_path))
                              .order_by(User.tree_path).offset(rng.randrange(100, 500)).limit(1))
        cases = [
            ("first page, 50 people (tree order)", page(), 100),
            ("filtered page: active, level 2", page(status="active", level=2), 100),
            ("filtered page: active, next run within 14 days",
             page(status="active", next_from=today, next_to=today + timedelta(days=14)), 100),
            (f"filtered page: name search '{name[:3].lower()}'", page(text=name[:3].lower()), 100),
            ("first page sorted by next run", page(sort="next"), None),
            ("first page sorted by PV", page(sort="pv"), None),
            ("first page sorted by name", page(sort="name"), None),
        ]

        min_pv = Decimal("20")
        cases += [
            ("totals and 3-month forecast",
             lambda: team_totals(session, ancestor, today), 500),
            ("attention list, first page",
             lambda: attention_page(session, ancestor, today=today, min_pv=min_pv), 100),
        ]
        repeat = REPEAT if ctx.quick else REPEAT // 2
        for title, call, goal in cases:
            samples = ctx.time_calls(call, repeat=repeat, warmup=3)
            median, p95 = ctx.percentile(samples, 0.5), ctx.percentile(samples, 0.95)
            notes = f"p95 {p95:.1f} ms; {where}"
            if goal:
                notes += f"; goal < {goal} ms: {'met' if median < goal else 'NOT met'}"
            rows.append(result_row(f"{label} people: {title}", backend, round(median, 2), "ms", notes))
            session.commit()
        totals = team_totals(session, ancestor, today)
        rows[-2]["notes"] += (f"; exact: {totals.active_profiles:,} active profiles in "
                              f"{totals.schedules_computed:,} distinct schedules stepped in Python")

        rows.append(export_row(ctx, session, backend, label, session.get(User, exporter_id),
                               sizes[exporter_id], today))
        session.commit()
        rows += http_rows(ctx, app, backend, label, ancestor_id, where)
    return rows


def export_row(ctx, session, backend: str, label: str, exporter, size: int, today: date) -> dict:
    from portal.downline.listing import TeamFilters, team_rows

    started = perf_counter()
    buffer, count, first_row = io.StringIO(), 0, None
    writer = csv.writer(buffer)
    for row in team_rows(session, exporter, TeamFilters()):
        if first_row is None:
            first_row = perf_counter() - started
        writer.writerow([row.member_number, row.first_name, row.last_name, row.level,
                         row.sponsor_number, row.status, row.next_run, f"{row.pv:.2f}",
                         row.days_since_last_order(today)])
        count += 1
        if count % 500 == 0:
            buffer.seek(0)
            buffer.truncate()
    seconds = perf_counter() - started
    assert count == size, (count, size)
    rate = count / seconds
    return result_row(f"{label} people: CSV export, {count:,} rows", backend, round(rate), "rows/s",
                f"{seconds:.2f} s in all, first row after {first_row * 1000:.0f} ms; streamed "
                f"(yield_per 2000); goal > 20,000 rows/s: {'met' if rate > 20_000 else 'NOT met'}")


def http_rows(ctx, app, backend: str, label: str, ancestor_id: int, where: str) -> list[dict]:
    from portal.accounts.models import User
    from portal.extensions import db

    from portal.accounts.login_sessions import Lifetimes, start_login_session
    from portal.clock import utcnow

    user = db.session.get(User, ancestor_id)
    _login, login_id = start_login_session(db.session, user=user, label="bench", remember=False,
                                           now=utcnow(), lifetimes=Lifetimes.from_config(app.config))
    db.session.commit()
    client = app.test_client()
    with client.session_transaction(base_url="https://localhost") as flask_session:
        flask_session["_user_id"] = login_id
        flask_session["_fresh"] = True
    statements: list[int] = []

    def count(*args, **kwargs):
        statements.append(1)

    def first_page(size: int = 50):
        response = client.get(f"/team/autoships?size={size}", base_url="https://localhost")
        assert response.status_code == 200, response.status_code
        assert response.get_data(as_text=True).count("<tr>") >= size

    samples = ctx.time_calls(first_page, repeat=REPEAT, warmup=3)
    engine = db.engine
    per_size = {}
    event.listen(engine, "before_cursor_execute", count)
    try:
        for size in (10, 50):
            statements.clear()
            first_page(size)
            per_size[size] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    median, p95 = ctx.percentile(samples, 0.5), ctx.percentile(samples, 0.95)
    return [
        result_row(f"{label} people: HTTP first page (test client)", backend, round(median, 2), "ms",
             f"p95 {p95:.1f} ms; whole request incl. session, template and navigation; {where}; "
             f"goal < 100 ms: {'met' if median < 100 else 'NOT met'}"),
        result_row(f"{label} people: SQL statements per page (10 vs 50 rows)", backend,
             per_size[10] if per_size[10] == per_size[50] else None, "statements",
             f"10 rows: {per_size[10]}, 50 rows: {per_size[50]}; must be equal"),
    ]

