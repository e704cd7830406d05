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

from sqlalchemy import (BigInteger, and_, delete, func, literal, or_, select, text, type_coerce,
                        union_all)
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
from portal.volume.rules import counted_pv_sql, counts_in_sql, refunded_pv_sql
from portal.volume.tally import Ranker, Row, tally

_LOCK_CLASS = 19_019   # the advisory lock's first key: volume computation; the second is the period
NULL = "\\N"   # in COPY's text format
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
    refunded = refunded_pv_sql()
    orders = (select(Order.user_id.label("user_id"), counted_pv_sql(refunded.c.pv).label("pv"))
              .outerjoin(refunded, refunded.c.order_id == Order.id).where(counts_in_sql(start, end)))
    adjustments = select(VolumeAdjustment.user_id.label("user_id"),
                         type_coerce(VolumeAdjustment.pv, BigInteger).label("pv")).where(
        VolumeAdjustment.period == period)
    if user_ids is not None:
        orders = orders.where(Order.user_id.in_(user_ids))
        adjustments = adjustments.where(VolumeAdjustment.user_id.in_(user_ids))
    both = union_all(orders, adjustments).subquery()
    totals = select(both.c.user_id, func.sum(both.c.pv)).group_by(both.c.user_id)
    return {user_id: int(pv) for user_id, pv in session.execute(totals)}


def _copy_rows(session: Session, period: date, rows: list[Row], ranker: Ranker, table: str) -> None:
    """COPY the rows in text format, a batch of lines per write (a call per row costs more
    than the server's work)."""
    raw = session.connection().connection.driver_connection
    day = period.isoformat()
    codes = {level: ranker.code(level) or NULL for level in range(-1, len(ranker.codes))}
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for first in range(0, len(rows), 20_000):
                copy.write("".join(
                    f"{day}\t{r.user_id}\t{r.role}\t{r.own_pv}\t{r.pv}\t{r.gv}\t{codes[r.level]}\t"
                    f"{r.frontline_legs}\t{NULL if r.leg_of_id is None else r.leg_of_id}\n"
                    for r in rows[first:first + 20_000]))


def _replace_rows(session: Session, period: date, rows: list[Row], ranker: Ranker) -> list[int]:
    """Make the period's rows these: COPYed into a scratch table, then compared with what is
    stored in set-based statements (hash joins, no probe per row): rows gone are deleted, rows
    that differ updated, new rows inserted; an unchanged row costs nothing. Returns the people
    whose paid-as rank changed."""
    params = {"period": period}
    if not session.scalar(text("SELECT EXISTS (SELECT 1 FROM person_volumes WHERE period = :period)"),
                          params):
        _copy_rows(session, period, rows, ranker, "person_volumes")   # the first computation
        return [row.user_id for row in rows if row.level >= 0]
    session.execute(text("CREATE TEMPORARY TABLE computed_volumes "
                         "(LIKE person_volumes INCLUDING DEFAULTS) ON COMMIT DROP"))
    _copy_rows(session, period, rows, ranker, "computed_volumes")
    values = ", ".join(_COLUMNS[2:])
    moved = list(session.scalars(text(
        "SELECT coalesce(c.user_id, p.user_id) FROM computed_volumes c FULL JOIN "
        "(SELECT user_id, rank FROM person_volumes WHERE period = :period) p ON p.user_id = c.user_id "
        "WHERE c.rank IS DISTINCT FROM p.rank"), params))
    session.execute(text(
        "DELETE FROM person_volumes p WHERE p.period = :period AND NOT EXISTS "
        "(SELECT 1 FROM computed_volumes c WHERE c.user_id = p.user_id)"), params)
    session.execute(text(
        f"UPDATE person_volumes p SET ({values}) = ({', '.join('c.' + n for n in _COLUMNS[2:])}) "
        f"FROM computed_volumes c WHERE p.period = :period AND c.user_id = p.user_id "
        f"AND ({', '.join('p.' + n for n in _COLUMNS[2:])}) "
        f"IS DISTINCT FROM ({', '.join('c.' + n for n in _COLUMNS[2:])})"), params)
    session.execute(text(
        f"INSERT INTO person_volumes ({', '.join(_COLUMNS)}) SELECT {', '.join('c.' + n for n in _COLUMNS)} "
        f"FROM computed_volumes c WHERE NOT EXISTS (SELECT 1 FROM person_volumes p "
        f"WHERE p.period = :period AND p.user_id = c.user_id)"), params)
    session.execute(text("DROP TABLE computed_volumes"))
    return moved


def _people_deepest_first(session: Session):
    """(id, sponsor id, role) of everyone in the tree, in reverse tree order, streamed from a
    server-side cursor of the session's connection (plain tuples: a million rows)."""
    raw = session.connection().connection.driver_connection
    with raw.cursor(name="volume_people") as cursor:
        cursor.itersize = 20_000
        cursor.execute("SELECT id, sponsor_id, role FROM users "
                       "WHERE tree_path IS NOT NULL AND role IN ('ibo', 'member') "
                       "ORDER BY tree_path DESC")
        yield from cursor


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
    people = _people_deepest_first(session)
    counted = 0

    def count(n: int) -> None:
        nonlocal counted
        counted += n
        if progress is not None:
            progress(n)

    rows = list(tally(people, own, ranker, count))
    moved = _replace_rows(session, period, rows, ranker)
    _mark_computed(session, period, version.id)
    if moved:
        update_highest_ranks(session, period, moved)
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
    depth_of, parent_of = {}, {}
    members = []
    for buyer in buyers:
        ids = _path_ids(buyer.tree_path)
        if buyer.role == "member":
            members.append((buyer.id, ids[-2] if len(ids) > 1 else None))
            ids = ids[:-1]
        for depth, user_id in enumerate(ids):
            depth_of[user_id] = depth
            parent_of[user_id] = ids[depth - 1] if depth else None
    path = sorted(depth_of, key=lambda uid: -depth_of[uid])

    changes: dict[int, Row | None] = {}   # user id -> new row, or None to remove it
    for member_id, sponsor_id in members:
        pv = own.get(member_id, 0)
        changes[member_id] = Row(member_id, "member", pv, pv, pv, -1, 0, sponsor_id) if pv else None
    # The path's rows, the member buyers' rows and the path's legs' rows, in one statement.
    member_ids = [member_id for member_id, _ in members]
    stored, legs = {}, {uid: {} for uid in path}
    for row in session.execute(
            select(PersonVolume.user_id, PersonVolume.leg_of_id, PersonVolume.role,
                   type_coerce(PersonVolume.own_pv, BigInteger).label("own_pv"),
                   type_coerce(PersonVolume.pv, BigInteger).label("pv"),
                   type_coerce(PersonVolume.gv, BigInteger).label("gv"), PersonVolume.rank)
            .where(PersonVolume.period == period,
                   or_(PersonVolume.user_id.in_(path + member_ids),
                       and_(PersonVolume.leg_of_id.in_(path), PersonVolume.role == "ibo")))):
        stored[row.user_id] = row
        if row.role == "ibo" and row.leg_of_id in legs:
            legs[row.leg_of_id][row.user_id] = (int(row.gv), plan.level(row.rank))

    def before(user_id: int, field: str) -> int:
        row = stored.get(user_id)
        return int(getattr(row, field)) if row is not None else 0

    # A credited IBO's PV moves by what their buyers' own PV moved (theirs, their members').
    moved_pv: dict[int, int] = {}
    for member_id, sponsor_id in members:
        if sponsor_id is not None:
            moved_pv[sponsor_id] = moved_pv.get(sponsor_id, 0) + own.get(member_id, 0) - before(member_id, "own_pv")
    buyer_ids = {b.id for b in buyers}

    for user_id in path:
        own_pv = own.get(user_id, 0) if user_id in buyer_ids else before(user_id, "own_pv")
        pv = before(user_id, "pv") + own_pv - before(user_id, "own_pv") + moved_pv.get(user_id, 0)
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
        codes = [ranker.code(row.level) for row in kept]
        session.execute(_UPSERT, {
            "period": period, "user_id": [r.user_id for r in kept], "role": [r.role for r in kept],
            "own_pv": [r.own_pv for r in kept], "pv": [r.pv for r in kept],
            "gv": [r.gv for r in kept], "rank": codes,
            "frontline_legs": [r.frontline_legs for r in kept],
            "leg_of_id": [r.leg_of_id for r in kept]})
    session.expire_all()


# One statement text whatever the number of rows (arrays, not a VALUES list), so that it is
# prepared once; volumes in the stored hundredths.
_UPSERT = text(
    "INSERT INTO person_volumes (period, user_id, role, own_pv, pv, gv, rank, frontline_legs, leg_of_id) "
    "SELECT :period, * FROM unnest(CAST(:user_id AS int[]), CAST(:role AS text[]), "
    "CAST(:own_pv AS bigint[]), CAST(:pv AS bigint[]), CAST(:gv AS bigint[]), "
    "CAST(:rank AS text[]), CAST(:frontline_legs AS int[]), CAST(:leg_of_id AS int[])) "
    "ON CONFLICT (period, user_id) DO UPDATE SET role = excluded.role, own_pv = excluded.own_pv, "
    "pv = excluded.pv, gv = excluded.gv, rank = excluded.rank, "
    "frontline_legs = excluded.frontline_legs, leg_of_id = excluded.leg_of_id")


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
