"""Where a person stands in a period: PV, GV, legs, paid-as rank and what the next rank needs.

Read from the period's computed rows (``PersonVolume``); someone without a row has no volume in
the period. The paid-as rank is the stored one (a closed period keeps the rank it was closed
with, under the plan then in force); the next rank's requirements are measured against the same
figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.volume.models import HighestRank, PersonVolume, VolumePeriod
from portal.volume.plan import Leg, Rank, RankPlan, Requirement, requirements_of
from portal.volume.rank_plans import latest_plan, plan_in_force

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Standing:
    member: str
    name: str
    role: str
    period: date
    period_status: str            # 'open' or 'closed'
    pv: Decimal
    gv: Decimal
    legs: list[Leg]               # GV high to low
    rank: Rank | None
    next_rank: Rank | None
    requirements: tuple[Requirement, ...]
    missing: tuple[str, ...]
    highest_rank: Rank | None
    plan: RankPlan
    own_pv: Decimal = ZERO        # of the person's own orders (a member's PV)
    computed: bool = False        # the period has been computed at least once


def legs_of(session: Session, user_id: int, period: date) -> list[Leg]:
    """The frontline IBOs with volume in ``period``, GV high to low."""
    rows = session.execute(
        select(User.member_number, User.first_name, User.last_name, PersonVolume.gv, PersonVolume.rank)
        .join(User, User.id == PersonVolume.user_id)
        .where(PersonVolume.period == period, PersonVolume.leg_of_id == user_id,
               PersonVolume.role == "ibo")
        .order_by(PersonVolume.gv.desc(), User.member_number))
    return [Leg(member=number, name=f"{first} {last}", gv=gv, rank=rank)
            for number, first, last, gv, rank in rows]


def _known(plan: RankPlan, code: str | None) -> Rank | None:
    return plan.rank(code) if code is not None and plan.level(code) >= 0 else None


def standing_of(session: Session, user: User, period: date) -> Standing:
    """``user``'s standing in ``period``. A member's: their own PV, no legs and no rank."""
    _, plan = plan_in_force(session, period)
    record = session.get(VolumePeriod, period)
    row = session.get(PersonVolume, (period, user.id))
    own_pv = row.own_pv if row else ZERO
    status = record.status if record else "open"
    if user.role != "ibo":
        return Standing(user.member_number, user.full_name, user.role, period, status, own_pv,
                        own_pv, [], None, None, (), (), None, plan, own_pv, record is not None)
    pv, gv = (row.pv, row.gv) if row else (ZERO, ZERO)
    legs = legs_of(session, user.id, period)
    rank = _known(plan, row.rank if row else None)
    level = plan.ranks.index(rank) if rank else -1
    next_rank = plan.ranks[level + 1] if level + 1 < len(plan.ranks) else None
    requirements = () if next_rank is None else requirements_of(plan, next_rank, pv=pv, gv=gv, legs=legs)
    highest = session.get(HighestRank, user.id)
    _, newest = latest_plan(session) if highest else (None, plan)
    return Standing(user.member_number, user.full_name, user.role, period, status, pv, gv, legs,
                    rank, next_rank, requirements,
                    tuple(r.to_go for r in requirements if not r.met),
                    _known(newest, highest.rank) if highest else None, plan, own_pv,
                    record is not None)


def history_of(session: Session, user: User, periods: list[date]) -> list[tuple[date, Decimal, Decimal, str | None]]:
    """(period, pv, gv, rank code) for each of ``periods`` in the order given; zeros and no
    rank for a period without a row."""
    rows = {row.period: row for row in session.scalars(
        select(PersonVolume).where(PersonVolume.user_id == user.id, PersonVolume.period.in_(periods)))}
    return [(period, rows[period].pv, rows[period].gv, rows[period].rank) if period in rows
            else (period, ZERO, ZERO, None) for period in periods]
