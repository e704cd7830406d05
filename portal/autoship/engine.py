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

2-5 are one statement of data-modifying CTEs over the due rows passed as arrays
(``portal.autoship.chunk_statement``), priced by the rule book (``portal.orders.rules``).

Exactly once is a database fact: the unique constraint on (profile, due date) makes duplicate
jobs, concurrent runs, retries and re-runs create nothing more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.autoship.chunk_statement import SKIP_NOTE, array_literal, chunk_statement
from portal.autoship.models import (AutoshipEvent, AutoshipOccurrence, AutoshipProfile, AutoshipRun,
                                    AutoshipRunAttempt, AutoshipRunChunk, AutoshipSkip,
                                    ProfileStatus, Regularity, RunStatus)
from portal.autoship.profiles import kept_on_resume, last_ordered_dates, record, schedule_of
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.clock import utcnow
from portal.orders.pricing import ShippingRule, shipping_rule

MAX_CATCH_UP_STEPS = 1000


@dataclass(frozen=True)
class EngineRules:
    shipping: ShippingRule
    min_pv: Decimal = Decimal("0")
    chunk_size: int = 5000

    @classmethod
    def from_config(cls, config) -> "EngineRules":
        return cls(shipping=shipping_rule(config), min_pv=Decimal(str(config["AUTOSHIP_MIN_PV"])),
                   chunk_size=int(config["AUTOSHIP_CHUNK_SIZE"]))


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
    """One coordinator per date: a transaction-scoped advisory lock."""
    session.execute(select(func.pg_advisory_xact_lock(7_400_000_000 + as_of.toordinal())))


def start_run(session: Session, *, as_of: date, trigger: str, chunk_size: int,
              restart: bool = True) -> AutoshipRun | None:
    """The run for ``as_of`` with its chunks; the caller commits, then the chunks are processed
    by jobs or in-process.

    Without ``restart`` (cron, which may fire twice) an existing run is left alone: None. With
    it, a run still in progress is joined, not restarted: its unfinished chunks are what a
    second coordinator (another operator, a retry after lost jobs) should process; a finished
    run gets another attempt, which finds nothing left to do unless profiles became due. The
    earlier attempts' chunks and counts stay: the new chunks are numbered after them and the
    run's counters add up.
    """
    _coordinator_lock(session, as_of)
    run = session.scalar(select(AutoshipRun).where(AutoshipRun.as_of == as_of))
    if run is not None and not restart:
        return None
    if run is not None and run.status == RunStatus.RUNNING:
        return run
    if run is None:
        run = AutoshipRun(as_of=as_of, trigger=trigger, attempts=1)
        run.chunks_done = run.created = run.skipped = run.missed = run.failed = 0
        run.due = run.resumed = 0
        session.add(run)
    else:
        run.attempts += 1
        run.trigger = trigger
    run.status, run.started_at, run.finished_at = RunStatus.RUNNING, utcnow(), None
    attempt = AutoshipRunAttempt(number=run.attempts, trigger=trigger, started_at=run.started_at,
                                 due=0, resumed=resume_paused(session, as_of))
    run.history.append(attempt)
    run.resumed += attempt.resumed

    due = select(AutoshipProfile.id, ((func.row_number().over(order_by=AutoshipProfile.id) - 1)
                                      // chunk_size).label("number")).where(
        AutoshipProfile.status == ProfileStatus.ACTIVE, AutoshipProfile.next_run_date <= as_of).subquery()
    first_number = max((chunk.number for chunk in run.chunks), default=-1) + 1
    for number, low_id, high_id, count in session.execute(
            select(due.c.number, func.min(due.c.id), func.max(due.c.id), func.count())
            .group_by(due.c.number).order_by(due.c.number)):
        run.chunks.append(AutoshipRunChunk(number=first_number + number, attempt=attempt.number,
                                           low_id=low_id, high_id=high_id))
        attempt.due += count
    run.due += attempt.due
    run.chunks_total = len(run.chunks)
    if not attempt.due:  # no chunk in this attempt; the earlier ones are all done
        run.status, run.finished_at = RunStatus.DONE, utcnow()
    session.flush()
    return run


def unfinished_chunks(session: Session, run_id: int) -> list[int]:
    return list(session.scalars(select(AutoshipRunChunk.number).where(
        AutoshipRunChunk.run_id == run_id, AutoshipRunChunk.status != "done")
        .order_by(AutoshipRunChunk.number)))


def resume_paused(session: Session, as_of: date) -> int:
    """Paused profiles whose automatic resume date has come are active again, their next
    run the first scheduled date on or after that resume date and after the last date
    already ordered for (the rule of every resume, ``Schedule.next_after_change``)."""
    profiles = list(session.scalars(select(AutoshipProfile).where(
        AutoshipProfile.status == ProfileStatus.PAUSED, AutoshipProfile.paused_until <= as_of)
        .with_for_update()))
    ordered = last_ordered_dates(session, [profile.id for profile in profiles])
    for profile in profiles:
        try:
            next_run = schedule_of(profile).next_after_change(
                profile.paused_until, ordered.get(profile.id), kept_on_resume(profile))
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
    as_of, now = run.as_of, utcnow()

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

    created, skipped = session.execute(chunk_statement(rules.shipping), {
        "profile_ids": array_literal(p.profile_id for p in plans),
        "due_dates": array_literal(p.due_date for p in plans),
        "next_dates": array_literal(p.next_date for p in plans),
        "low_id": chunk.low_id, "high_id": chunk.high_id, "now": now, "as_of": as_of,
        "min_pv": rules.min_pv, "skip_note": SKIP_NOTE}).one()
    missed_rows = [{"profile_id": p.profile_id, "due_date": day, "outcome": "missed",
                    "note": f"the engine did not run that day; ordered once for {p.due_date}",
                    "recorded_at": now} for p in plans for day in p.missed]
    if missed_rows:
        session.execute(insert(AutoshipOccurrence).on_conflict_do_nothing(), missed_rows)

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
