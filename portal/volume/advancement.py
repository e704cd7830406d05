"""A period's rank advancement report: who reached a new highest rank, and who is paid as a
higher or lower rank than in the period before. Ranks are compared by their level in the plan
in force for the period (a code that plan no longer knows counts as no rank)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, literal, select
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import Role, User
from portal.pagination import Page, paginate
from portal.volume.models import HighestRank, PersonVolume
from portal.volume.periods import add_months
from portal.volume.plan import RankPlan

KINDS = {"new": "Reached a new highest rank", "up": "Moved up", "down": "Moved down"}
PAGE_SIZE = 50


@dataclass(frozen=True)
class Advancement:
    member_number: str
    first_name: str
    last_name: str
    before: str | None   # rank names
    after: str | None


def _level(plan: RankPlan, column):
    return case(*((column == rank.code, literal(index)) for index, rank in enumerate(plan.ranks)),
                else_=literal(-1))


def _or_none(level):
    """No row in a period means no rank in it."""
    return case((level.is_(None), literal(-1)), else_=level)


def advancement_page(session: Session, period: date, plan: RankPlan, kind: str, *, number: int = 1,
                     size: int = PAGE_SIZE) -> Page:
    """IBOs of ``kind`` ("new", "up" or "down") in ``period``, a page of ``Advancement``,
    highest rank first. Moving down includes holding a rank the period before and no volume
    (no row) now."""
    now, before = aliased(PersonVolume), aliased(PersonVolume)
    previous = add_months(period, -1)
    if kind == "down":  # from the period before, to what is left now
        query = (select(User.member_number, User.first_name, User.last_name, before.rank, now.rank)
                 .select_from(before).join(User, User.id == before.user_id)
                 .outerjoin(now, and_(now.user_id == before.user_id, now.period == period))
                 .where(before.period == previous, before.role == Role.IBO,
                        _level(plan, before.rank) > _or_none(_level(plan, now.rank)))
                 .order_by(_level(plan, before.rank).desc(), User.member_number))
    else:
        query = (select(User.member_number, User.first_name, User.last_name, before.rank, now.rank)
                 .select_from(now).join(User, User.id == now.user_id)
                 .outerjoin(before, and_(before.user_id == now.user_id, before.period == previous))
                 .where(now.period == period, now.role == Role.IBO)
                 .order_by(_level(plan, now.rank).desc(), User.member_number))
        if kind == "new":
            query = query.join(HighestRank, and_(HighestRank.user_id == now.user_id,
                                                 HighestRank.period == period))
        else:
            query = query.where(_level(plan, now.rank) > _or_none(_level(plan, before.rank)))
    page = paginate(session, query, number, size, scalars=False)
    names = {rank.code: rank.name for rank in plan.ranks}
    return Page(items=[Advancement(member_number=n, first_name=f, last_name=last,
                                   before=names.get(b, b) if b else None,
                                   after=names.get(a, a) if a else None)
                       for n, f, last, b, a in page.items],
                number=page.number, size=page.size, total=page.total)
