"""The team list: everyone below an upline manager, one row per person, filtered, sorted and
paged, and the same rows for a whole CSV export.

A person's row shows:

* *status*: their best status (``portal.downline.statuses``);
* *next run*: the soonest ``next_run_date`` among their **active** standing orders (empty
  otherwise);
* *PV next run*: the stored cycle PV (items of products and units still sold, at the locked PV
  for price-locked items) of their **active** standing orders whose next run is that soonest
  date, i.e. the PV their next shipment date brings. Summing every active standing order would
  add runs on different dates (a weekly one and a monthly one) as if they shipped together;
  the PV over a period is the totals page's forecast (``portal.downline.totals``);
* *last order*: their latest order of any kind that was not cancelled.

A page is one statement. The values are correlated sub-queries on the person, computed for the
page's rows only: an inner SELECT first picks the page by its sort key. In tree order it walks
the ``tree_path`` index; status and next-run filters are EXISTS / NOT EXISTS semi-joins, so a
filtered page stops as soon as it has its rows. Sorting by next run, PV or name has to rank the
whole downline (a top-N sort over it, one index probe per person for the first two); BENCHMARKS.md
says what that costs. The export computes the same values set-based (GROUP BYs joined once) and
streams them, as repeating the sub-queries for every person of a large team would be slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, and_, case, exists, func, literal, or_, select, tuple_, type_coerce
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import User
from portal.autoship.models import AutoshipProfile, ProfileStatus
from portal.downline.paging import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from portal.downline.statuses import (RANKED, TeamPerson, best_status_rank, status_of_rank,
                                      status_rank, stored_pv)
from portal.genealogy.queries import downline_bounds
from portal.orders.models import Order

SORTS = ("tree", "next", "pv", "name")
SORT_LABELS = {"tree": "Tree order", "next": "Next run date", "pv": "PV next run (highest first)",
               "name": "Name"}
NO_DATE = date(9999, 12, 31)  # sorts people without an active profile after everyone else
MAX_LEVEL = 60


@dataclass(frozen=True)
class TeamFilters:
    level: int | None = None
    status: str | None = None
    next_from: date | None = None
    next_to: date | None = None
    text: str = ""
    sort: str = "tree"

    @property
    def active(self) -> bool:
        return any((self.level, self.status, self.next_from, self.next_to, self.text))


@dataclass(frozen=True)
class TeamRow(TeamPerson):
    id: int
    member_number: str
    first_name: str
    last_name: str
    role: str
    level: int
    tree_path: str
    sponsor_number: str | None
    status: str
    next_run: date | None
    pv: Decimal
    last_order_at: datetime | None

    def days_since_last_order(self, today: date) -> int | None:
        return None if self.last_order_at is None else (today - self.last_order_at.date()).days


@dataclass(frozen=True)
class TeamPage:
    rows: list[TeamRow]
    next_cursor: str | None
    sort: str


# ------------------------------------------------------------------ per-person expressions

def _person_columns(person):
    """Correlated per-person values: status rank, soonest active date, the PV of that date,
    last order, sponsor. The first three read only ix_autoship_profiles_user_id_status."""
    p2 = aliased(AutoshipProfile)
    next_run = (select(func.min(p2.next_run_date))
                .where(p2.user_id == person.id, p2.status == ProfileStatus.ACTIVE)
                .correlate(person).scalar_subquery())
    p3 = aliased(AutoshipProfile)
    pv = (select(func.coalesce(func.sum(stored_pv(p3)), 0))
          .where(p3.user_id == person.id, p3.status == ProfileStatus.ACTIVE,
                 p3.next_run_date == next_run)
          .correlate(person).scalar_subquery())
    last_order = (select(func.max(Order.placed_at))
                  .where(Order.user_id == person.id, Order.status != "cancelled")
                  .correlate(person).scalar_subquery())
    sponsor = aliased(User)
    sponsor_number = (select(sponsor.member_number).where(sponsor.id == person.sponsor_id)
                      .correlate(person).scalar_subquery())
    return best_status_rank(person), next_run, pv, last_order, sponsor_number


def _row_query(person, ancestor: User):
    """A person's row values as a SELECT on ``person``."""
    rank, next_run, pv, last_order, sponsor_number = _person_columns(person)
    return select(person.id, person.member_number, person.first_name, person.last_name,
                  person.role, (person.depth - ancestor.depth).label("level"), person.tree_path,
                  sponsor_number.label("sponsor_number"), rank.label("status_rank"),
                  next_run.label("next_run"), pv.label("pv"), last_order.label("last_order_at"))


def _row(values) -> TeamRow:
    (pid, number, first, last, role, level, path, sponsor, rank, next_run, pv, last_order) = values
    return TeamRow(id=pid, member_number=number, first_name=first, last_name=last, role=role,
                   level=level, tree_path=path, sponsor_number=sponsor,
                   status=status_of_rank(rank), next_run=next_run,
                   pv=Decimal(int(pv or 0)) / 100, last_order_at=last_order)


# ------------------------------------------------------------------ filters and sorts

def _like_prefix(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sort_keys(person, sort: str) -> tuple:
    """The ORDER BY of ``sort`` (ties broken by person id): the key comes first."""
    if sort == "tree":
        return (person.tree_path,)
    if sort == "name":
        return (person.last_name, person.first_name, person.id)
    _, next_run, pv, _, _ = _person_columns(person)
    if sort == "next":
        return (func.coalesce(next_run, literal(NO_DATE, Date)), person.id)
    return (pv, person.id)  # highest first


def _sort_key(sort: str, row: TeamRow):
    """The key of ``row`` that a cursor after it carries."""
    if sort == "tree":
        return row.tree_path
    if sort == "next":
        return row.next_run or NO_DATE
    if sort == "pv":
        return int(row.pv * 100)
    return [row.last_name, row.first_name]


def _exists_filters(person, filters: TeamFilters) -> list:
    """The status and next-run filters as EXISTS / NOT EXISTS on the person's profiles, which
    PostgreSQL runs as (anti) semi-joins, instead of comparing per-person aggregates:

    * best status is S: a profile in S, and none in a better status ("none": no profile);
    * soonest active next run in [from, to]: an active profile due in the range, and none
      due before ``from``.
    """
    def has(*conditions):
        profile = aliased(AutoshipProfile)
        return exists().where(profile.user_id == person.id,
                              *(condition(profile) for condition in conditions))

    clauses = []
    if filters.status == "none":
        clauses.append(~has())
    elif filters.status:
        better = RANKED[:RANKED.index(filters.status)]
        clauses.append(has(lambda p: p.status == filters.status))
        if better:
            clauses.append(~has(lambda p: p.status.in_(better)))
    if filters.next_from is not None or filters.next_to is not None:
        due = [lambda p: p.status == ProfileStatus.ACTIVE]
        if filters.next_from is not None:
            due.append(lambda p: p.next_run_date >= filters.next_from)
            clauses.append(~has(lambda p: p.status == ProfileStatus.ACTIVE,
                                lambda p: p.next_run_date < filters.next_from))
        if filters.next_to is not None:
            due.append(lambda p: p.next_run_date <= filters.next_to)
        clauses.append(has(*due))
    return clauses


def _aggregate_filters(filters: TeamFilters, rank, next_run) -> list:
    """The same filters on per-person aggregate columns (the export's GROUP BYs)."""
    clauses = []
    if filters.status == "none":
        clauses.append(rank.is_(None))
    elif filters.status:
        clauses.append(rank == RANKED.index(filters.status) + 1)
    if filters.next_from is not None:
        clauses.append(next_run >= filters.next_from)
    if filters.next_to is not None:
        clauses.append(next_run <= filters.next_to)
    return clauses


def _filtered(query, person, ancestor: User, filters: TeamFilters, *clauses):
    low, high = downline_bounds(ancestor.tree_path)
    query = query.where(person.tree_path > low, person.tree_path < high, *clauses)
    if filters.level is not None:
        query = query.where(person.depth == ancestor.depth + filters.level)
    for word in filters.text.split()[:5]:
        pattern = _like_prefix(word)
        query = query.where(or_(func.lower(person.member_number).like(pattern, escape="\\"),
                                func.lower(person.first_name).like(pattern, escape="\\"),
                                func.lower(person.last_name).like(pattern, escape="\\")))
    return query


# ------------------------------------------------------------------ pages and the export

def team_page(session: Session, ancestor: User, filters: TeamFilters, *, cursor: str | None = None,
              size: int = 50) -> TeamPage:
    """One keyset page of the filtered downline, in ``filters.sort`` order. One statement: an
    inner SELECT picks the page's people by their sort key alone (in tree order a walk of the
    index; otherwise a top-N over the downline, each key one index probe), and the row values
    are computed for those people only."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    person = aliased(User, name="person")
    keys = _sort_keys(person, filters.sort)
    labels = [key.label(f"key{n}") for n, key in enumerate(keys)]
    chosen = select(person.id.label("id"), *labels)
    chosen = _filtered(chosen, person, ancestor, filters, *_exists_filters(person, filters))
    if cursor:
        key, person_id = decode_cursor(filters.sort, cursor)
        if filters.sort == "tree":
            chosen = chosen.where(person.tree_path > key)
        elif filters.sort == "pv":  # highest first, then id
            chosen = chosen.where(or_(keys[0] < key, and_(keys[0] == key, person.id > person_id)))
        elif filters.sort == "next":
            chosen = chosen.where(tuple_(*keys) > tuple_(literal(key, Date), literal(person_id)))
        else:
            chosen = chosen.where(tuple_(*keys) > tuple_(literal(key[0]), literal(key[1]),
                                                         literal(person_id)))
    descending = filters.sort == "pv"
    # By the labels: an ORDER BY repeating a sub-query would run it twice per person.
    page = (chosen.order_by(labels[0].desc() if descending else labels[0], *labels[1:])
            .limit(size + 1).subquery("page"))
    page_keys = [page.c[f"key{n}"] for n in range(len(keys))]
    shown = aliased(User, name="shown")
    query = (_row_query(shown, ancestor).join(page, page.c.id == shown.id)
             .order_by(page_keys[0].desc() if descending else page_keys[0], *page_keys[1:]))
    rows = [_row(values) for values in session.execute(query)]
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = (encode_cursor(filters.sort, _sort_key(filters.sort, rows[-1]), rows[-1].id)
                   if more else None)
    return TeamPage(rows=rows, next_cursor=next_cursor, sort=filters.sort)


def export_query(ancestor: User, filters: TeamFilters):
    """The same rows as ``team_page`` in tree order, computed set-based for a whole export:
    the per-person values come from GROUP BYs over the downline's profiles and orders, joined
    to the people once, instead of sub-queries repeated per person."""
    person, in_range = aliased(User, name="person"), aliased(User)
    low, high = downline_bounds(ancestor.tree_path)
    scoped = and_(in_range.tree_path > low, in_range.tree_path < high)
    p = aliased(AutoshipProfile)
    active = p.status == ProfileStatus.ACTIVE
    statuses = (select(p.user_id.label("user_id"), func.min(status_rank(p)).label("rank"),
                       func.min(case((active, p.next_run_date), else_=None)).label("next_run"))
                .join(in_range, in_range.id == p.user_id).where(scoped)
                .group_by(p.user_id).subquery("statuses"))
    soonest = aliased(AutoshipProfile)
    next_pv = (select(soonest.user_id.label("user_id"), func.sum(stored_pv(soonest)).label("pv"))
               .join(statuses, and_(statuses.c.user_id == soonest.user_id,
                                    statuses.c.next_run == soonest.next_run_date))
               .where(soonest.status == ProfileStatus.ACTIVE)
               .group_by(soonest.user_id).subquery("next_pv"))
    orders = (select(Order.user_id.label("user_id"), func.max(Order.placed_at).label("last"))
              .join(in_range, in_range.id == Order.user_id)
              .where(scoped, Order.status != "cancelled").group_by(Order.user_id).subquery("orders"))
    sponsor = aliased(User)
    query = (select(person.id, person.member_number, person.first_name, person.last_name,
                    person.role, (person.depth - ancestor.depth).label("level"), person.tree_path,
                    sponsor.member_number, statuses.c.rank, statuses.c.next_run,
                    func.coalesce(next_pv.c.pv, 0), type_coerce(orders.c.last, Order.placed_at.type))
             .select_from(person)
             .outerjoin(sponsor, sponsor.id == person.sponsor_id)
             .outerjoin(statuses, statuses.c.user_id == person.id)
             .outerjoin(next_pv, next_pv.c.user_id == person.id)
             .outerjoin(orders, orders.c.user_id == person.id))
    query = _filtered(query, person, ancestor, filters,
                      *_aggregate_filters(filters, statuses.c.rank, statuses.c.next_run))
    return query.order_by(person.tree_path)


def team_rows(session: Session, ancestor: User, filters: TeamFilters, batch: int = 2000):
    """Every person matching ``filters``, in tree order, streamed from the database (one
    statement, set-based; the same rows and values as the pages)."""
    result = session.execute(export_query(ancestor, filters).execution_options(yield_per=batch))
    for values in result:
        yield _row(values)
