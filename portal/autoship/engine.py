"""The autoship engine: every due standing order becomes exactly one real order.

A run for a date ``as_of`` is split into keyset chunks of due profiles. Each chunk is one
transaction of a handful of set-based statements:

1. the due profiles of the range are locked and, in Python over plain values, each gets the
   date it orders for (the latest due date: older missed dates are recorded, never ordered
   in a burst) and its next date (calendar or rolling), computed once per distinct schedule;
   a profile whose schedule gives no next date is set aside (status 'unplannable', with the
   reason) and the rest of the chunk goes on without it;
2. ``INSERT INTO orders ... SELECT ... ON CONFLICT (profile, due date) DO NOTHING`` creates
   the orders, priced by each profile's policy, from items that can ship;
3. lines and status history are inserted for the new orders;
4. what could not ship, what was missed and what was left out is recorded;
5. the profiles move to their next date, the counters add up.

On PostgreSQL, 2-5 are one statement (writable CTEs) over the due rows passed as arrays; on
SQLite, which has no writable CTEs, the due rows go through the working table
``autoship_due`` and each kind of row has its own statement. A test runs both on the same
rows and compares what they wrote.

Exactly once is a database fact: the unique constraint on (profile, due date) makes duplicate
jobs, concurrent runs, retries and re-runs create nothing more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Date, Integer, String, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from portal.autoship.models import (AutoshipDue, AutoshipEvent, AutoshipOccurrence, AutoshipProfile,
                                    AutoshipRun, AutoshipRunChunk, AutoshipSkip, ProfileStatus,
                                    Regularity, RunStatus)
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.db import UTCDateTime, utcnow
from portal.orders.pricing import ShippingRule

MAX_CATCH_UP_STEPS = 1000


@dataclass(frozen=True)
class EngineRules:
    shipping: ShippingRule
    min_pv: Decimal = Decimal("0")
    chunk_size: int = 5000


@dataclass(frozen=True)
class DuePlan:
    profile_id: int
    due_date: date           # the one date this cycle orders for
    next_date: date | None   # None: the series has ended
    missed: tuple[date, ...]  # older due dates that passed during downtime


@dataclass(frozen=True)
class SetAside:
    profile_id: int
    reason: str


@lru_cache(maxsize=4096)
def _rule(text_rule: str) -> Recurrence:
    try:
        return Recurrence.parse(text_rule)
    except ValueError as error:  # stored before the parser refused it
        raise UnplannableSchedule(f"the rule {text_rule!r} is not understood any more: {error}") from error


def plan_due(profile_id: int, rrule: str, anchor: date, regularity: str, next_run: date,
             as_of: date, skips: frozenset[date]) -> DuePlan:
    """Which date a due profile orders for on ``as_of``, what it missed, and when it runs next."""
    return DuePlan(profile_id, *_plan_dates(rrule, anchor, regularity, next_run, as_of, skips))


@lru_cache(maxsize=65536)
def _plan_dates(rrule: str, anchor: date, regularity: str, next_run: date, as_of: date,
                skips: frozenset[date]) -> tuple[date, date | None, tuple[date, ...]]:
    # Pure: a chunk's thousands of profiles share a few rules, anchors and dates.
    schedule = Schedule(_rule(rrule), anchor, regularity, skips)
    due, missed = next_run, []
    following = schedule.following(due)
    for _ in range(MAX_CATCH_UP_STEPS):
        if following is None or following > as_of:
            break
        missed.append(due)
        due, following = following, schedule.following(following)
    if regularity == Regularity.ROLLING and as_of > due:
        # One interval after the order actually placed (today), not after the due date.
        following = schedule.following(as_of)
    return due, following, tuple(missed)


# ---------------------------------------------------------------- the coordinator

def _coordinator_lock(session: Session, as_of: date) -> None:
    """One coordinator per date: a transaction-scoped advisory lock on PostgreSQL; on SQLite
    the transaction's BEGIN IMMEDIATE already holds the database's single write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": 7_400_000_000 + as_of.toordinal()})


def start_run(session: Session, *, as_of: date, trigger: str, chunk_size: int,
              restart: bool = True) -> AutoshipRun | None:
    """The run for ``as_of`` with its chunks; the caller commits, then the chunks are processed
    by jobs or in-process.

    Without ``restart`` (cron, which may fire twice) an existing run is left alone: None. With
    it, a run still in progress is joined, not restarted: its unfinished chunks are what a
    second coordinator (another operator, a retry after lost jobs) should process; a finished
    run is run again from scratch and finds nothing left to do unless profiles became due.
    """
    _coordinator_lock(session, as_of)
    run = session.scalar(select(AutoshipRun).where(AutoshipRun.as_of == as_of))
    if run is not None and not restart:
        return None
    if run is not None and run.status == RunStatus.RUNNING:
        return run
    if run is None:
        run = AutoshipRun(as_of=as_of, trigger=trigger, attempts=1)
        session.add(run)
    else:
        run.attempts += 1
        run.trigger = trigger
        run.chunks.clear()
        session.flush()
    run.status, run.started_at, run.finished_at = RunStatus.RUNNING, utcnow(), None
    run.chunks_done = run.created = run.skipped = run.missed = run.failed = run.set_aside = 0
    run.resumed = resume_paused(session, as_of)

    due = select(AutoshipProfile.id, ((func.row_number().over(order_by=AutoshipProfile.id) - 1)
                                      // chunk_size).label("number")).where(
        AutoshipProfile.status == ProfileStatus.ACTIVE, AutoshipProfile.next_run_date <= as_of).subquery()
    run.due = 0
    for number, low_id, high_id, count in session.execute(
            select(due.c.number, func.min(due.c.id), func.max(due.c.id), func.count())
            .group_by(due.c.number).order_by(due.c.number)):
        run.chunks.append(AutoshipRunChunk(number=number, low_id=low_id, high_id=high_id))
        run.due += count
    run.chunks_total = len(run.chunks)
    if not run.chunks:
        run.status, run.finished_at = RunStatus.DONE, utcnow()
    session.flush()
    return run


def unfinished_chunks(session: Session, run_id: int) -> list[int]:
    return list(session.scalars(select(AutoshipRunChunk.number).where(
        AutoshipRunChunk.run_id == run_id, AutoshipRunChunk.status != "done")
        .order_by(AutoshipRunChunk.number)))


def resume_paused(session: Session, as_of: date) -> int:
    """Paused profiles whose automatic resume date has come are active again, their next
    run the first scheduled date on or after that resume date."""
    from portal.autoship.services import record, schedule_of

    profiles = list(session.scalars(select(AutoshipProfile).where(
        AutoshipProfile.status == ProfileStatus.PAUSED, AutoshipProfile.paused_until <= as_of)
        .with_for_update()))
    for profile in profiles:
        try:
            next_run = schedule_of(profile).first_on_or_after(profile.paused_until)
        except UnplannableSchedule as error:
            reason = f"Its schedule cannot be planned: {error}."
            profile.status, profile.set_aside_reason = ProfileStatus.UNPLANNABLE, reason[:300]
            record(session, profile, None, "set aside", reason)
            profile.paused_until = None
            continue
        profile.status, profile.next_run_date = ProfileStatus.ACTIVE, next_run
        if profile.next_run_date is None:
            profile.status, profile.cancelled_at = ProfileStatus.CANCELLED, utcnow()
        record(session, profile, None, "resumed automatically", f"paused until {profile.paused_until}")
        profile.paused_until = None
    session.flush()
    return len(profiles)


# ---------------------------------------------------------------- one chunk

_ELIGIBLE = """
    pr.active AND u.active
    AND (p.out_of_stock_policy = 'backorder'
         OR COALESCE(s.on_hand - s.allocated, 0) >= i.quantity * u.eaches_per_unit)
"""
_PRICE = "CASE WHEN p.price_policy = 'locked' AND i.locked_price IS NOT NULL THEN i.locked_price ELSE u.price END"
_PV = "CASE WHEN p.price_policy = 'locked' AND i.locked_pv IS NOT NULL THEN i.locked_pv ELSE u.pv END"
_BV = "CASE WHEN p.price_policy = 'locked' AND i.locked_bv IS NOT NULL THEN i.locked_bv ELSE u.bv END"
_ITEM_JOINS = """
    JOIN autoship_profiles p ON p.id = d.profile_id
    JOIN autoship_items i ON i.profile_id = d.profile_id
    JOIN products pr ON pr.id = i.product_id
    JOIN product_units u ON u.product_id = i.product_id AND u.code = i.unit_code
    LEFT JOIN stock_levels s ON s.product_id = i.product_id
"""

# Amounts are integer hundredths in the database (portal.db.Hundredths), so SQL sums are exact.
# The statements below are the portable chunk (SQLite) over the working table.
_INSERT_ORDERS = text(f"""
INSERT INTO orders (user_id, status, source, placed_at, updated_at, address_id, ship_moniker,
    ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
    destination_key, payment_method_id, payment_label, autoship_profile_id, autoship_due_date,
    payment_attempts, subtotal, shipping_fee, total, pv_total, bv_total)
SELECT p.user_id, 'pending_payment', 'autoship', :now, :now, a.id, a.moniker, a.full_name,
    a.line1, a.line2, a.city, a.region, a.postal_code, a.country, a.destination_key,
    pm.id, pm.brand || ' ending ' || pm.last4, d.profile_id, d.due_date, 0,
    t.subtotal,
    CASE WHEN t.subtotal >= :free_from THEN 0 ELSE :flat_fee END,
    t.subtotal + CASE WHEN t.subtotal >= :free_from THEN 0 ELSE :flat_fee END,
    t.pv, t.bv
FROM autoship_due d
JOIN autoship_profiles p ON p.id = d.profile_id
JOIN addresses a ON a.id = p.address_id
JOIN payment_methods pm ON pm.id = p.payment_method_id
JOIN (SELECT d.profile_id AS profile_id,
             SUM({_PRICE} * i.quantity) AS subtotal,
             SUM({_PV} * i.quantity) AS pv,
             SUM({_BV} * i.quantity) AS bv
      FROM autoship_due d {_ITEM_JOINS}
      WHERE d.run_id = :run_id AND d.chunk = :chunk AND {_ELIGIBLE}
      GROUP BY d.profile_id) t ON t.profile_id = d.profile_id
WHERE d.run_id = :run_id AND d.chunk = :chunk AND p.status = 'active' AND t.pv >= :min_pv
ON CONFLICT (autoship_profile_id, autoship_due_date) DO NOTHING
""")

_NEW_ORDERS = """
    FROM autoship_due d
    JOIN orders o ON o.autoship_profile_id = d.profile_id AND o.autoship_due_date = d.due_date
    WHERE d.run_id = :run_id AND d.chunk = :chunk
"""

_INSERT_LINES = text(f"""
INSERT INTO order_lines (order_id, product_id, sku, name, unit_code, eaches_per_unit, quantity,
    eaches, unit_price, line_total, pv, bv)
SELECT o.id, pr.id, pr.sku, pr.name, u.code, u.eaches_per_unit, i.quantity,
    i.quantity * u.eaches_per_unit, {_PRICE}, {_PRICE} * i.quantity, {_PV} * i.quantity,
    {_BV} * i.quantity
FROM autoship_due d
JOIN orders o ON o.autoship_profile_id = d.profile_id AND o.autoship_due_date = d.due_date
{_ITEM_JOINS}
WHERE d.run_id = :run_id AND d.chunk = :chunk AND {_ELIGIBLE}
  AND NOT EXISTS (SELECT 1 FROM order_lines ol WHERE ol.order_id = o.id)
ORDER BY o.id, i.id
""")

_INSERT_HISTORY = text(f"""
INSERT INTO order_status_changes (order_id, from_status, to_status, note, changed_at)
SELECT o.id, NULL, 'pending_payment', 'placed by autoship', :now {_NEW_ORDERS}
  AND NOT EXISTS (SELECT 1 FROM order_status_changes c WHERE c.order_id = o.id)
""")

_RECORD_SKIPPED = text("""
INSERT INTO autoship_occurrences (profile_id, due_date, outcome, note, recorded_at)
SELECT d.profile_id, d.due_date, 'skipped', :note, :now
FROM autoship_due d
WHERE d.run_id = :run_id AND d.chunk = :chunk
  AND NOT EXISTS (SELECT 1 FROM orders o
                  WHERE o.autoship_profile_id = d.profile_id AND o.autoship_due_date = d.due_date)
ON CONFLICT (profile_id, due_date) DO NOTHING
""")

_RECORD_ITEM_NOTES = text(f"""
INSERT INTO autoship_events (profile_id, actor_id, at, action, details)
SELECT d.profile_id, NULL, :now,
    CASE WHEN NOT (pr.active AND u.active) THEN 'item left out: no longer sold'
         WHEN p.out_of_stock_policy = 'backorder' THEN 'item backordered'
         ELSE 'item skipped: out of stock' END,
    pr.name || ' (' || i.unit_code || ') for ' || CAST(d.due_date AS VARCHAR(10))
FROM autoship_due d {_ITEM_JOINS}
WHERE d.run_id = :run_id AND d.chunk = :chunk
  AND NOT (pr.active AND u.active
           AND COALESCE(s.on_hand - s.allocated, 0) >= i.quantity * u.eaches_per_unit)
""")

_ADVANCE_PROFILES = text("""
UPDATE autoship_profiles SET
    next_run_date = (SELECT d.next_date FROM autoship_due d
                     WHERE d.run_id = :run_id AND d.chunk = :chunk AND d.profile_id = autoship_profiles.id),
    last_order_date = CASE WHEN EXISTS (
            SELECT 1 FROM autoship_due d JOIN orders o
              ON o.autoship_profile_id = d.profile_id AND o.autoship_due_date = d.due_date
            WHERE d.run_id = :run_id AND d.chunk = :chunk AND d.profile_id = autoship_profiles.id)
        THEN :as_of ELSE last_order_date END,
    status = CASE WHEN (SELECT d.next_date FROM autoship_due d
                        WHERE d.run_id = :run_id AND d.chunk = :chunk AND d.profile_id = autoship_profiles.id) IS NULL
             THEN 'cancelled' ELSE status END,
    updated_at = :now
WHERE id IN (SELECT profile_id FROM autoship_due WHERE run_id = :run_id AND chunk = :chunk) AND status = 'active'
""")


# PostgreSQL: the whole chunk in one statement of writable CTEs, over the due rows passed as
# arrays (nothing goes through the working table); each item is joined and priced once, for
# the orders, their lines and the notes alike.
# Row estimates of CTEs are guesses (often 1 row), and a nested loop between two CTE scans is
# quadratic, so no two CTEs are ever joined: each due row gets its order id up front
# (nextval), "which orders were created" is the hashed NOT IN subplan that PostgreSQL uses for
# small sets, and every real join has a table with an index on one side. The chunk's id range
# bounds those joins. All sub-statements see the same snapshot: the orders inserted here are
# known through RETURNING only.
_CHUNK_POSTGRESQL = text(f"""
WITH d AS MATERIALIZED (
    SELECT d.profile_id, d.due_date, d.next_date,
           nextval((SELECT pg_get_serial_sequence('orders', 'id'))::regclass) AS order_id
    FROM unnest(CAST(:profile_ids AS integer[]), CAST(:due_dates AS date[]),
                CAST(:next_dates AS date[])) AS d(profile_id, due_date, next_date)
),
items AS MATERIALIZED (
    SELECT d.order_id, d.profile_id, d.due_date, i.id AS item_id, pr.id AS product_id, pr.sku,
           pr.name, u.code AS unit_code, u.eaches_per_unit, i.quantity,
           {_PRICE} AS price, {_PV} AS pv, {_BV} AS bv,
           pr.active AND u.active AS sold,
           COALESCE(s.on_hand - s.allocated, 0) >= i.quantity * u.eaches_per_unit AS in_stock,
           p.out_of_stock_policy = 'backorder' AS backorder
    FROM d {_ITEM_JOINS}
    WHERE i.profile_id BETWEEN :low_id AND :high_id AND p.id BETWEEN :low_id AND :high_id
),
totals AS (
    SELECT order_id, profile_id, due_date, SUM(price * quantity) AS subtotal,
           SUM(pv * quantity) AS pv, SUM(bv * quantity) AS bv
    FROM items WHERE sold AND (backorder OR in_stock)
    GROUP BY order_id, profile_id, due_date
),
new_orders AS (
    INSERT INTO orders (id, user_id, status, source, placed_at, updated_at, address_id, ship_moniker,
        ship_name, ship_line1, ship_line2, ship_city, ship_region, ship_postal_code, ship_country,
        destination_key, payment_method_id, payment_label, autoship_profile_id, autoship_due_date,
        payment_attempts, subtotal, shipping_fee, total, pv_total, bv_total)
    SELECT t.order_id, p.user_id, 'pending_payment', 'autoship', :now, :now, a.id, a.moniker,
        a.full_name, a.line1, a.line2, a.city, a.region, a.postal_code, a.country, a.destination_key,
        pm.id, pm.brand || ' ending ' || pm.last4, t.profile_id, t.due_date, 0,
        t.subtotal,
        CASE WHEN t.subtotal >= :free_from THEN 0 ELSE :flat_fee END,
        t.subtotal + CASE WHEN t.subtotal >= :free_from THEN 0 ELSE :flat_fee END,
        t.pv, t.bv
    FROM totals t
    JOIN autoship_profiles p ON p.id = t.profile_id
    JOIN addresses a ON a.id = p.address_id
    JOIN payment_methods pm ON pm.id = p.payment_method_id
    WHERE p.id BETWEEN :low_id AND :high_id AND p.status = 'active' AND t.pv >= :min_pv
    ORDER BY t.order_id
    ON CONFLICT (autoship_profile_id, autoship_due_date) DO NOTHING
    RETURNING id
),
not_created AS MATERIALIZED (
    SELECT order_id, profile_id, due_date FROM d WHERE order_id NOT IN (SELECT id FROM new_orders)
),
not_ordered AS MATERIALIZED (  -- not created, and no order from elsewhere (a ship-now) either
    SELECT n.profile_id, n.due_date FROM not_created n
    WHERE NOT EXISTS (SELECT 1 FROM orders o
                      WHERE o.autoship_profile_id = n.profile_id AND o.autoship_due_date = n.due_date)
),
new_lines AS (
    INSERT INTO order_lines (order_id, product_id, sku, name, unit_code, eaches_per_unit, quantity,
        eaches, unit_price, line_total, pv, bv)
    SELECT order_id, product_id, sku, name, unit_code, eaches_per_unit, quantity,
        quantity * eaches_per_unit, price, price * quantity, pv * quantity, bv * quantity
    FROM items
    WHERE sold AND (backorder OR in_stock) AND order_id NOT IN (SELECT order_id FROM not_created)
    ORDER BY order_id, item_id
),
new_history AS (
    INSERT INTO order_status_changes (order_id, from_status, to_status, note, changed_at)
    SELECT id, NULL, 'pending_payment', 'placed by autoship', :now FROM new_orders
),
item_notes AS (
    INSERT INTO autoship_events (profile_id, actor_id, at, action, details)
    SELECT profile_id, NULL, :now,
        CASE WHEN NOT sold THEN 'item left out: no longer sold'
             WHEN backorder THEN 'item backordered'
             ELSE 'item skipped: out of stock' END,
        name || ' (' || unit_code || ') for ' || CAST(due_date AS VARCHAR(10))
    FROM items WHERE NOT (sold AND in_stock)
),
skipped AS (
    INSERT INTO autoship_occurrences (profile_id, due_date, outcome, note, recorded_at)
    SELECT profile_id, due_date, 'skipped', :skip_note, :now FROM not_ordered
    ON CONFLICT (profile_id, due_date) DO NOTHING
    RETURNING 1
),
advanced AS (
    UPDATE autoship_profiles SET
        next_run_date = d.next_date,
        last_order_date = CASE WHEN d.profile_id NOT IN (SELECT profile_id FROM not_ordered)
                               THEN :as_of ELSE last_order_date END,
        status = CASE WHEN d.next_date IS NULL THEN 'cancelled' ELSE status END,
        updated_at = :now
    FROM d
    WHERE autoship_profiles.id = d.profile_id AND autoship_profiles.id BETWEEN :low_id AND :high_id
      AND autoship_profiles.status = 'active'
)
SELECT (SELECT COUNT(*) FROM new_orders), (SELECT COUNT(*) FROM skipped)
""")

SKIP_NOTE = "nothing could ship (items unavailable) or below the minimum PV"


def _params(text_clause, **types):
    return text_clause.bindparams(*(bindparam(name, type_=type_) for name, type_ in types.items()))


@dataclass(frozen=True)
class ChunkResult:
    due: int
    created: int
    skipped: int
    missed: int
    seconds: float
    already_done: bool = False
    set_aside: int = 0


def _lock_chunk(session: Session, run_id: int, number: int) -> AutoshipRunChunk | None:
    return session.scalar(select(AutoshipRunChunk).where(AutoshipRunChunk.run_id == run_id,
                                                         AutoshipRunChunk.number == number)
                          .with_for_update())


def materialise_chunk(session: Session, *, run_id: int, number: int, rules: EngineRules) -> ChunkResult:
    """Turn one chunk's due profiles into orders, in the caller's transaction (commit after)."""
    started = time.perf_counter()
    chunk = _lock_chunk(session, run_id, number)
    if chunk is None or chunk.status == "done":
        return ChunkResult(0, 0, 0, 0, 0.0, already_done=True)
    run = session.get(AutoshipRun, run_id)
    as_of, now = run.as_of, datetime.now(timezone.utc)

    due_rows = session.execute(
        select(AutoshipProfile.id, AutoshipProfile.rrule, AutoshipProfile.anchor_date,
               AutoshipProfile.regularity, AutoshipProfile.next_run_date)
        .where(AutoshipProfile.id.between(chunk.low_id, chunk.high_id),
               AutoshipProfile.status == ProfileStatus.ACTIVE,
               AutoshipProfile.next_run_date <= as_of)
        .order_by(AutoshipProfile.id).with_for_update()).all()
    skips: dict[int, set[date]] = {}
    for profile_id, day in session.execute(
            select(AutoshipSkip.profile_id, AutoshipSkip.skip_date)
            .where(AutoshipSkip.profile_id.between(chunk.low_id, chunk.high_id))):
        skips.setdefault(profile_id, set()).add(day)
    plans, set_aside = [], []
    for pid, rrule, anchor, regularity, next_run in due_rows:
        try:
            plans.append(plan_due(pid, rrule, anchor, regularity, next_run, as_of,
                                  frozenset(skips.get(pid, ()))))
        except UnplannableSchedule as error:
            # One member's schedule must not stop everyone else's order.
            set_aside.append(SetAside(pid, f"Its schedule cannot be planned: {error}."[:300]))
    _set_aside(session, set_aside, now)

    amounts = {"now": now, "free_from": int(rules.shipping.free_from * 100),
               "flat_fee": int(rules.shipping.flat_fee * 100), "min_pv": int(rules.min_pv * 100)}
    if session.get_bind().dialect.name == "postgresql":
        created, skipped = _write_chunk_in_one_statement(session, chunk, plans, as_of, amounts)
    else:
        created, skipped = _write_chunk_through_working_table(session, run_id, number, plans, as_of,
                                                              amounts)
    missed_rows = [{"profile_id": p.profile_id, "due_date": day, "outcome": "missed",
                    "note": f"the engine did not run that day; ordered once for {p.due_date}",
                    "recorded_at": now} for p in plans for day in p.missed]
    if missed_rows:
        session.execute(_on_conflict_nothing(session, AutoshipOccurrence), missed_rows)

    seconds = round(time.perf_counter() - started, 4)
    chunk.status, chunk.due, chunk.created, chunk.skipped = "done", len(due_rows), created, skipped
    chunk.missed, chunk.seconds, chunk.finished_at = len(missed_rows), seconds, utcnow()
    chunk.set_aside = len(set_aside)
    chunk.attempts += 1
    chunk.error = ""
    session.execute(update(AutoshipRun).where(AutoshipRun.id == run_id).values(
        chunks_done=AutoshipRun.chunks_done + 1, created=AutoshipRun.created + created,
        skipped=AutoshipRun.skipped + skipped, missed=AutoshipRun.missed + len(missed_rows),
        set_aside=AutoshipRun.set_aside + len(set_aside)))
    session.flush()
    _finish_if_complete(session, run_id)
    return ChunkResult(len(due_rows), created, skipped, len(missed_rows), seconds, set_aside=len(set_aside))


def _set_aside(session: Session, set_aside: list[SetAside], now: datetime) -> None:
    """The profiles whose schedule cannot be planned wait, with their reason, for a new one;
    they are already locked by the chunk's scan."""
    if not set_aside:
        return
    session.execute(update(AutoshipProfile), [
        {"id": s.profile_id, "status": ProfileStatus.UNPLANNABLE, "set_aside_reason": s.reason,
         "updated_at": now} for s in set_aside])
    session.execute(insert(AutoshipEvent), [
        {"profile_id": s.profile_id, "actor_id": None, "at": now, "action": "set aside",
         "details": s.reason} for s in set_aside])


_AMOUNT_TYPES = {"now": UTCDateTime(), "free_from": Integer(), "flat_fee": Integer(), "min_pv": Integer()}


def _array_literal(values) -> str:
    # Integers, ISO dates and NULL never need quoting; this is ~10x quicker than the driver's
    # per-element list adaptation for a chunk's thousands of values.
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"


def _write_chunk_in_one_statement(session: Session, chunk: AutoshipRunChunk, plans: list[DuePlan],
                                  as_of: date, amounts: dict) -> tuple[int, int]:
    """PostgreSQL: one statement creates the orders, lines, history, notes and skips and moves
    the profiles on. Returns (created, skipped)."""
    created, skipped = session.execute(
        _params(_CHUNK_POSTGRESQL, skip_note=String(), as_of=Date(), **_AMOUNT_TYPES),
        {"profile_ids": _array_literal(p.profile_id for p in plans),
         "due_dates": _array_literal(p.due_date for p in plans),
         "next_dates": _array_literal(p.next_date for p in plans),
         "low_id": chunk.low_id, "high_id": chunk.high_id, "as_of": as_of,
         "skip_note": SKIP_NOTE, **amounts}).one()
    return created, skipped


def _write_chunk_through_working_table(session: Session, run_id: int, number: int,
                                       plans: list[DuePlan], as_of: date,
                                       amounts: dict) -> tuple[int, int]:
    """SQLite (no writable CTEs): the due rows go through ``autoship_due``, one statement per
    kind of row, then the profiles move on. Returns (created, skipped)."""
    mine = (AutoshipDue.run_id == run_id) & (AutoshipDue.chunk == number)
    session.execute(delete(AutoshipDue).where(mine))
    if plans:
        session.execute(insert(AutoshipDue.__table__), [
            {"run_id": run_id, "chunk": number, "profile_id": p.profile_id, "due_date": p.due_date,
             "next_date": p.next_date} for p in plans])
    base = {"run_id": run_id, "chunk": number, "now": amounts["now"]}
    created = session.execute(_params(_INSERT_ORDERS, **_AMOUNT_TYPES), {**base, **amounts}).rowcount
    session.execute(_INSERT_LINES, {"run_id": run_id, "chunk": number})
    session.execute(_params(_INSERT_HISTORY, now=UTCDateTime()), base)
    session.execute(_params(_RECORD_ITEM_NOTES, now=UTCDateTime()), base)
    skipped = session.execute(_params(_RECORD_SKIPPED, now=UTCDateTime(), note=String()),
                              {**base, "note": SKIP_NOTE}).rowcount
    session.execute(_params(_ADVANCE_PROFILES, now=UTCDateTime(), as_of=Date()), {**base, "as_of": as_of})
    session.execute(delete(AutoshipDue).where(mine))
    return created, skipped


def _on_conflict_nothing(session: Session, model):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model).on_conflict_do_nothing()


def _finish_if_complete(session: Session, run_id: int) -> None:
    session.execute(update(AutoshipRun).where(
        AutoshipRun.id == run_id, AutoshipRun.chunks_done >= AutoshipRun.chunks_total,
        AutoshipRun.status == RunStatus.RUNNING).values(status=RunStatus.DONE, finished_at=utcnow()))


def record_chunk_failure(session: Session, *, run_id: int, number: int, error: str) -> None:
    """In a fresh transaction after a chunk failed: keep the reason for the admin pages."""
    session.execute(update(AutoshipRunChunk).where(
        AutoshipRunChunk.run_id == run_id, AutoshipRunChunk.number == number,
        AutoshipRunChunk.status != "done").values(
        status="failed", error=error[:500], attempts=AutoshipRunChunk.attempts + 1))
    session.execute(update(AutoshipRun).where(AutoshipRun.id == run_id).values(
        failed=select(func.count()).select_from(AutoshipRunChunk).where(
            AutoshipRunChunk.run_id == run_id, AutoshipRunChunk.status == "failed")
        .scalar_subquery()))


def run_in_process(session: Session, *, as_of: date, trigger: str, rules: EngineRules) -> AutoshipRun:
    """The whole run in this process, one transaction per chunk (the CLI's --sync)."""
    run_id = start_run(session, as_of=as_of, trigger=trigger, chunk_size=rules.chunk_size).id
    session.commit()
    for chunk_number in unfinished_chunks(session, run_id):
        materialise_chunk(session, run_id=run_id, number=chunk_number, rules=rules)
        session.commit()
    return session.get(AutoshipRun, run_id)
