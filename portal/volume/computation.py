"""Computing a period's volume and ranks, in full or along one path, and closing a period.

A full recompute is one pass over the period's orders (own PV per person, in SQL) and one pass
over the genealogy in reverse ``tree_path`` order (``tally``: PV, GV, legs and ranks bottom-up),
written back with COPY. A refresh after an order was paid, cancelled or refunded recomputes the
buyers' own PV, their credited IBOs' PV and then, bottom-up along the path to the root, each
upline's GV and rank from their legs' stored rows: a handful of statements, whatever the size
of the tree. Both produce the same rows (a test holds them equal).

Every computation of a period holds the period's advisory lock for its transaction, so two
never interleave; a closed period is never computed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, delete, func, literal, select, text, type_coerce, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.clock import utcnow
from portal.errors import DomainError
from portal.orders.models import Order
from portal.volume.models import PersonVolume, VolumeAdjustment, VolumePeriod
from portal.volume.periods import BadPeriod, current_period, period_bounds, period_name
from portal.volume.rank_plans import plan_in_force
from portal.volume.highest import update_highest_ranks
from portal.volume.refreshes import request_volume_refresh  # noqa: F401 (part of this API)
from portal.volume.rules import counted_pv_sql, counts_in_sql
from portal.volume.tally import Ranker, Row, tally

_LOCK_CLASS = 19_019   # the advisory lock's first key: volume computation; the second is the period
_COLUMNS = ("period", "user_id", "role", "own_pv", "pv", "gv", "rank", "frontline_legs", "leg_of_id")


class PeriodClosed(DomainError):
    """The period is closed: its volume no longer changes. The message is for a person."""

    status = 409


class PeriodNotOver(DomainError):
    """A period can be closed only after it ended."""

    status = 409


@dataclass(frozen=True)
class RecomputeSummary:
    period: date
    people: int          # people in the genealogy passed over
    rows: int            # people with volume (rows written)
    ranked: int          # IBOs paid as some rank
    plan_version: int


def lock_period(session: Session, period: date) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:c, :p)"),
                    {"c": _LOCK_CLASS, "p": period.toordinal()})


def _check_computable(session: Session, period: date) -> VolumePeriod | None:
    if period > current_period():
        raise BadPeriod(f"{period_name(period)} has not started yet.")
    record = session.get(VolumePeriod, period, populate_existing=True)
    if record is not None and record.status == "closed":
        raise PeriodClosed(f"{period_name(period)} is closed: its volume no longer changes.")
    return record


def own_volume(session: Session, period: date, user_ids=None) -> dict[int, int]:
    """Hundredths of PV of each person's own orders counted in ``period``, plus the
    adjustments landing in it; ``user_ids`` limits it to those buyers."""
    start, end = period_bounds(period)
    orders = select(Order.user_id.label("user_id"), counted_pv_sql().label("pv")).where(
        counts_in_sql(start, end))
    adjustments = select(VolumeAdjustment.user_id.label("user_id"),
                         type_coerce(VolumeAdjustment.pv, BigInteger).label("pv")).where(
        VolumeAdjustment.period == period)
    if user_ids is not None:
        orders = orders.where(Order.user_id.in_(user_ids))
        adjustments = adjustments.where(VolumeAdjustment.user_id.in_(user_ids))
    both = union_all(orders, adjustments).subquery()
    totals = select(both.c.user_id, func.sum(both.c.pv)).group_by(both.c.user_id)
    return {user_id: int(pv) for user_id, pv in session.execute(totals)}


def _copy_rows(session: Session, period: date, rows: list[Row], ranker: Ranker) -> None:
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY person_volumes ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((period, row.user_id, row.role, row.own_pv, row.pv, row.gv,
                                ranker.code(row.level), row.frontline_legs, row.leg_of_id))


def _mark_computed(session: Session, period: date, version_id: int | None) -> None:
    session.execute(insert(VolumePeriod).values(
        period=period, status="open", plan_version_id=version_id, computed_at=utcnow())
        .on_conflict_do_update(index_elements=["period"], set_={
            "plan_version_id": version_id, "computed_at": utcnow()}))


def recompute_period(session: Session, period: date, *, progress=None) -> RecomputeSummary:
    """Compute every person's volume and rank in ``period`` from scratch, with the plan in
    force for it. ``progress(n)`` is told every few thousand people passed over.

    Raises ``BadPeriod`` for a period that has not started, ``PeriodClosed`` for a closed one."""
    lock_period(session, period)
    _check_computable(session, period)
    version, plan = plan_in_force(session, period)
    ranker = Ranker(plan)
    own = own_volume(session, period)
    people = session.execute(
        select(User.id, User.sponsor_id, User.role)
        .where(User.tree_path.is_not(None), User.role.in_(("ibo", "member")))
        .order_by(User.tree_path.desc()).execution_options(yield_per=20_000))
    counted = 0

    def count(n: int) -> None:
        nonlocal counted
        counted += n
        if progress is not None:
            progress(n)

    rows = list(tally(people, own, ranker, count))
    session.execute(delete(PersonVolume).where(PersonVolume.period == period))
    _copy_rows(session, period, rows, ranker)
    _mark_computed(session, period, version.id)
    update_highest_ranks(session, period, None)
    session.expire_all()
    return RecomputeSummary(period, counted, len(rows), sum(1 for row in rows if row.level >= 0),
                            version.version)


def _path_ids(tree_path: str) -> list[int]:
    return [int(part) for part in tree_path.strip("/").split("/") if part]


def refresh_people(session: Session, period: date, user_ids) -> int:
    """Bring ``period`` up to date after the orders of ``user_ids`` (buyers) changed: their own
    PV, their credited IBOs' PV, and GV and rank of everyone on the path above, bottom-up.
    A period never computed is computed in full; a closed one is left alone. Returns the
    number of rows written or removed."""
    user_ids = sorted(set(user_ids))
    if not user_ids or period > current_period():
        return 0
    lock_period(session, period)
    record = session.get(VolumePeriod, period, populate_existing=True)
    if record is None:
        return recompute_period(session, period).rows
    if record.status == "closed":
        return 0
    _, plan = plan_in_force(session, period)
    ranker = Ranker(plan)
    buyers = session.execute(select(User.id, User.role, User.tree_path).where(
        User.id.in_(user_ids), User.tree_path.is_not(None), User.role.in_(("ibo", "member")))).all()
    own = own_volume(session, period, [b.id for b in buyers])

    # Every IBO on a path from a buyer to the root, with its place in its path.
    credited, depth_of, parent_of = set(), {}, {}
    members = []
    for buyer in buyers:
        ids = _path_ids(buyer.tree_path)
        if buyer.role == "member":
            members.append((buyer.id, ids[-2] if len(ids) > 1 else None))
            ids = ids[:-1]
        if ids:
            credited.add(ids[-1])
        for depth, user_id in enumerate(ids):
            depth_of[user_id] = depth
            parent_of[user_id] = ids[depth - 1] if depth else None
    path = sorted(depth_of, key=lambda uid: -depth_of[uid])

    changes: dict[int, Row | None] = {}   # user id -> new row, or None to remove it
    for member_id, sponsor_id in members:
        pv = own.get(member_id, 0)
        changes[member_id] = Row(member_id, "member", pv, pv, pv, -1, 0, sponsor_id) if pv else None
    stored = {row.user_id: row for row in session.execute(
        select(PersonVolume.user_id, type_coerce(PersonVolume.own_pv, BigInteger).label("own_pv"),
               type_coerce(PersonVolume.pv, BigInteger).label("pv"), PersonVolume.rank)
        .where(PersonVolume.period == period, PersonVolume.user_id.in_(path)))}
    members_pv: dict[int, int] = dict(session.execute(
        select(PersonVolume.leg_of_id, func.sum(type_coerce(PersonVolume.own_pv, BigInteger)))
        .where(PersonVolume.period == period, PersonVolume.leg_of_id.in_(list(credited)),
               PersonVolume.role == "member", PersonVolume.user_id.not_in([m for m, _ in members]))
        .group_by(PersonVolume.leg_of_id)).all())
    for member_id, sponsor_id in members:
        if sponsor_id is not None:
            members_pv[sponsor_id] = int(members_pv.get(sponsor_id, 0)) + own.get(member_id, 0)
    legs: dict[int, dict[int, tuple[int, int]]] = {uid: {} for uid in path}
    for leg_of_id, user_id, gv, rank in session.execute(
            select(PersonVolume.leg_of_id, PersonVolume.user_id,
                   type_coerce(PersonVolume.gv, BigInteger), PersonVolume.rank)
            .where(PersonVolume.period == period, PersonVolume.leg_of_id.in_(path),
                   PersonVolume.role == "ibo")):
        legs[leg_of_id][user_id] = (int(gv), plan.level(rank))

    for user_id in path:
        before = stored.get(user_id)
        if user_id in credited:
            own_pv = own.get(user_id, 0) if user_id in own or user_id in user_ids else \
                (int(before.own_pv) if before else 0)
            pv = own_pv + int(members_pv.get(user_id, 0))
        else:
            own_pv, pv = (int(before.own_pv), int(before.pv)) if before else (0, 0)
        mine = list(legs[user_id].values())
        parent = parent_of[user_id]
        if not pv and not own_pv and not mine:
            changes[user_id] = None
            if parent is not None:
                legs[parent].pop(user_id, None)
            continue
        gv = pv + sum(gv for gv, _ in mine)
        level = ranker.level(pv, mine)
        changes[user_id] = Row(user_id, "ibo", own_pv, pv, gv, level, len(mine), parent)
        if parent is not None:
            legs[parent][user_id] = (gv, level)

    _write_changes(session, period, changes, ranker)
    # Highest ranks move only where a paid-as rank did.
    moved = [user_id for user_id in path
             if ranker.code(changes[user_id].level if changes[user_id] else -1)
             != (stored[user_id].rank if user_id in stored else None)]
    if moved:
        update_highest_ranks(session, period, moved)
    return len(changes)


def _write_changes(session: Session, period: date, changes: dict[int, Row | None],
                   ranker: Ranker) -> None:
    gone = [user_id for user_id, row in changes.items() if row is None]
    if gone:
        session.execute(delete(PersonVolume).where(PersonVolume.period == period,
                                                   PersonVolume.user_id.in_(gone)))
    kept = [row for row in changes.values() if row is not None]
    if kept:
        table = PersonVolume.__table__
        statement = insert(table).values([
            {"period": period, "user_id": row.user_id, "role": row.role,
             "own_pv": Decimal(row.own_pv) / 100, "pv": Decimal(row.pv) / 100,
             "gv": Decimal(row.gv) / 100, "rank": ranker.code(row.level),
             "frontline_legs": row.frontline_legs, "leg_of_id": row.leg_of_id} for row in kept])
        session.execute(statement.on_conflict_do_update(
            index_elements=["period", "user_id"],
            set_={name: statement.excluded[name] for name in _COLUMNS[2:]}))
    session.expire_all()


def close_period(session: Session, period: date, *, actor: User | None) -> VolumePeriod:
    """Compute ``period`` one last time and close it: its volume never changes afterwards (a
    refund or cancellation of its orders lands as an adjustment in the open period)."""
    if period >= current_period():
        raise PeriodNotOver(f"{period_name(period)} has not ended yet: a period is closed after "
                            f"its last day.")
    recompute_period(session, period)
    record = session.get(VolumePeriod, period, populate_existing=True)
    record.status, record.closed_at = "closed", utcnow()
    record.closed_by_id = actor.id if actor is not None else None
    session.flush()
    return record


def period_record(session: Session, period: date) -> VolumePeriod | None:
    return session.get(VolumePeriod, period)


def is_closed(session: Session, period: date) -> bool:
    return bool(session.scalar(select(literal(True)).where(
        VolumePeriod.period == period, VolumePeriod.status == "closed")))
