"""Team volume for an upline: their downline's volume by level, the ranks the team pages show,
who is close to their next rank (and what each still needs), and the rows of the CSV export.

Everything is read from the period's computed volumes (``person_volumes``) inside the upline's
downline range (one index range over the materialised path), never a query per person. What a
team page shows of a person is what the other team pages show: names, member numbers, levels,
volumes and ranks; never payment details or addresses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Numeric, and_, case, cast, func, literal, select, type_coerce
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import Role, User
from portal.genealogy.queries import downline_bounds
from portal.pagination import Page
from portal.volume.models import PersonVolume
from portal.volume.plan import Leg, Rank, RankPlan, qualify

CLOSE_PAGE_SIZE = 25
SHARES = (50, 60, 70, 80, 90, 95)   # how close counts as close, in percent, for the upline to pick
DEFAULT_SHARE = 80


@dataclass(frozen=True)
class LevelVolume:
    level: int
    people: int        # with volume in the period
    pv: Decimal


@dataclass(frozen=True)
class CloseRow:
    member_number: str
    first_name: str
    last_name: str
    level: int
    pv: Decimal
    gv: Decimal
    rank: Rank | None
    next_rank: Rank
    progress: Decimal          # the smaller of PV and GV as a share of the next rank's minimum
    missing: tuple[str, ...]   # what the next rank still needs, from qualify

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def volume_by_level(session: Session, scope: User, period: date) -> list[LevelVolume]:
    """People with volume in ``period`` and their PV, per level below ``scope``: one statement."""
    low, high = downline_bounds(scope.tree_path)
    level = (User.depth - scope.depth).label("level")
    rows = session.execute(
        select(level, func.count(), func.coalesce(func.sum(PersonVolume.pv), 0))
        .join(User, User.id == PersonVolume.user_id)
        .where(PersonVolume.period == period, User.tree_path > low, User.tree_path < high)
        .group_by(level).order_by(level))
    return [LevelVolume(level=lvl, people=people, pv=Decimal(pv)) for lvl, people, pv in rows]


def ranks_of(session: Session, user_ids: Sequence[int], period: date, plan: RankPlan) -> dict[int, str]:
    """The paid-as rank names of ``user_ids`` in ``period`` (those who hold one)."""
    if not user_ids:
        return {}
    names = {rank.code: rank.name for rank in plan.ranks}
    return {user_id: names.get(code, code) for user_id, code in session.execute(
        select(PersonVolume.user_id, PersonVolume.rank)
        .where(PersonVolume.period == period, PersonVolume.user_id.in_(list(user_ids)),
               PersonVolume.rank.is_not(None)))}


def _next_threshold(plan: RankPlan, rank_column, attribute: str):
    """The next rank's ``attribute`` (min_pv, min_gv) for the rank held, in hundredths as the
    volume columns hold it, as SQL; NULL at the top (or for a code the plan does not know)."""
    def hundredths(rank: Rank):
        return literal(int(getattr(rank, attribute) * 100), BigInteger)
    whens = [(rank_column == held.code, hundredths(above))
             for held, above in zip(plan.ranks, plan.ranks[1:])]
    return case((rank_column.is_(None), hundredths(plan.ranks[0])), *whens, else_=None)


def _share_of(volume_column, minimum):
    """``volume_column`` as a share of ``minimum`` (both in hundredths); 1 when nothing is asked."""
    value = cast(type_coerce(volume_column, BigInteger), Numeric)
    return case((minimum <= 0, literal(Decimal(1), Numeric)), else_=value / func.nullif(minimum, 0))


def close_to_next_rank(session: Session, scope: User, period: date, plan: RankPlan, *,
                       share: int = DEFAULT_SHARE, number: int = 1,
                       size: int = CLOSE_PAGE_SIZE) -> Page:
    """IBOs below ``scope`` whose PV and GV in ``period`` both reach ``share`` percent of their
    next rank's minimums, closest first, a page of ``CloseRow`` with what each still needs (the
    maximum-leg and legs-at-a-rank requirements included: ``qualify`` on their legs).

    Three statements: the page with the count of all (a window over the same pass), reading
    the downline's IBOs from the index alone and probing their volume row; then the names of
    the page's people and their legs."""
    if not plan.ranks:
        return Page(items=[], number=1, size=size, total=0)
    low, high = downline_bounds(scope.tree_path)
    volume, person = aliased(PersonVolume), aliased(User)
    min_pv = _next_threshold(plan, volume.rank, "min_pv")
    min_gv = _next_threshold(plan, volume.rank, "min_gv")
    progress = func.least(_share_of(volume.pv, min_pv), _share_of(volume.gv, min_gv)).label("progress")
    number = max(1, number)
    found = session.execute(
        select(person.id, (person.depth - scope.depth).label("level"), volume.pv, volume.gv,
               volume.rank, progress, func.count().over().label("total"))
        .join(volume, and_(volume.period == period, volume.user_id == person.id))
        .where(person.tree_path > low, person.tree_path < high, person.role == Role.IBO,
               volume.role == Role.IBO, min_gv.is_not(None), progress >= Decimal(share) / 100)
        .order_by(progress.desc(), person.id)
        .limit(size).offset((number - 1) * size)).all()
    if not found and number > 1:  # past the last page: the last page, as the pager counts
        total = close_to_next_rank(session, scope, period, plan, share=share, number=1, size=size).total
        last = max(1, -(-total // size))
        return close_to_next_rank(session, scope, period, plan, share=share, number=last, size=size)
    ids = [row.id for row in found]
    names = {row.id: row for row in session.execute(
        select(User.id, User.member_number, User.first_name, User.last_name).where(User.id.in_(ids)))} \
        if ids else {}
    legs = legs_of(session, ids, period)
    rows = []
    for row in found:
        qualification = qualify(plan, pv=row.pv, gv=row.gv, legs=legs.get(row.id, ()))
        held = _known(plan, row.rank)
        above = plan.ranks[plan.level(row.rank) + 1] if held else plan.ranks[0]
        who = names[row.id]
        rows.append(CloseRow(member_number=who.member_number, first_name=who.first_name,
                             last_name=who.last_name, level=row.level, pv=row.pv, gv=row.gv,
                             rank=held, next_rank=above,
                             progress=min(Decimal(row.progress), Decimal(1)),
                             missing=qualification.missing if qualification.next_rank == above else
                             tuple(r.to_go for r in qualification.requirements if not r.met)))
    return Page(items=rows, number=number, size=size, total=found[0].total if found else 0)


def _known(plan: RankPlan, code: str | None) -> Rank | None:
    return plan.rank(code) if code is not None and plan.level(code) >= 0 else None


def legs_of(session: Session, user_ids: Sequence[int], period: date) -> dict[int, list[Leg]]:
    """The legs (frontline IBOs' groups) of each of ``user_ids`` in ``period``: one statement."""
    if not user_ids:
        return {}
    found: dict[int, list[Leg]] = defaultdict(list)
    for owner, number, first, last, gv, rank in session.execute(
            select(PersonVolume.leg_of_id, User.member_number, User.first_name, User.last_name,
                   PersonVolume.gv, PersonVolume.rank)
            .join(User, User.id == PersonVolume.user_id)
            .where(PersonVolume.period == period, PersonVolume.role == Role.IBO,
                   PersonVolume.leg_of_id.in_(list(user_ids)))):
        found[owner].append(Leg(member=number, name=f"{first} {last}", gv=gv, rank=rank))
    return found


@dataclass(frozen=True)
class VolumeRow:
    member_number: str
    first_name: str
    last_name: str
    role: str
    level: int
    sponsor_number: str | None
    pv: Decimal
    gv: Decimal
    rank: str | None    # the rank's name


def team_volume_rows(session: Session, scope: User, period: date, plan: RankPlan,
                     batch: int = 1000) -> Iterator[VolumeRow]:
    """Everyone below ``scope`` with volume in ``period``, in tree order, streamed."""
    low, high = downline_bounds(scope.tree_path)
    person, sponsor = aliased(User), aliased(User)
    names = {rank.code: rank.name for rank in plan.ranks}
    result = session.execute(
        select(person.member_number, person.first_name, person.last_name, PersonVolume.role,
               (person.depth - scope.depth), sponsor.member_number, PersonVolume.pv,
               PersonVolume.gv, PersonVolume.rank)
        .join(person, person.id == PersonVolume.user_id)
        .outerjoin(sponsor, sponsor.id == person.sponsor_id)
        .where(PersonVolume.period == period, person.tree_path > low, person.tree_path < high)
        .order_by(person.tree_path).execution_options(yield_per=batch))
    for number, first, last, role, level, sponsor_number, pv, gv, rank in result:
        yield VolumeRow(member_number=number, first_name=first, last_name=last, role=role,
                        level=level, sponsor_number=sponsor_number, pv=pv, gv=gv,
                        rank=names.get(rank, rank) if rank else None)
