"""Read-side team views: an upline manager's downline and its standing orders.

Everything is scoped by the viewer's materialised path (one index range, see
``portal.genealogy.queries``); nothing here trusts an id it was not handed by the view after
an ``is_in_downline`` check.

**One row per person.** A person may hold several profiles. Their row shows:

* *status*: the "best" status among their profiles, in the order active > payment failed >
  needs a new schedule (set aside by the engine) > paused > cancelled; "none" when they hold no profile at all;
* *next run*: the soonest ``next_run_date`` among their **active** profiles (empty otherwise);
* *PV*: the sum of the cycle PV of their **active** profiles (items of products and units
  still sold, at the locked PV for price-locked items), i.e. the PV one run of each brings;
* *last order*: their latest order of any kind that was not cancelled.

Status, soonest active run and PV come from the profiles' stored cycle PV
(``portal.autoship.volume``) and ``ix_autoship_profiles_user_id_status``: one index probe per
person, no item read.

A page is one statement. The values are correlated sub-queries on the person, computed for
the page's rows only: an inner SELECT first picks the page by its sort key. In tree order it
walks the ``tree_path`` index; status and next-run filters are EXISTS / NOT EXISTS
semi-joins, so a filtered page stops as soon as it has its rows. Sorting by next run, PV or
name has to rank the whole downline (a top-N sort over it, one index probe per person for
the first two): measured in BENCHMARKS.md. The CSV export computes the same values set-based
(GROUP BYs joined once) and streams them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import (Date, Integer, String, and_, case, exists, extract, false, func, literal,
                        or_, select, tuple_, type_coerce, union_all)
from sqlalchemy.orm import Session, aliased, selectinload

from portal.accounts.models import User
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipProfile, AutoshipSkip,
                                    ProfileStatus)
from portal.autoship.schedule import Schedule
from portal.catalog.models import Product, ProductUnit, StockLevel
from portal.errors import DomainError, NotFound
from portal.genealogy.queries import downline_bounds, in_downline_of
from portal.orders.models import ChargeAttempt, Order

STATUSES = ("active", "paused", "payment_failed", "unplannable", "cancelled", "none")
STATUS_LABELS = {"active": "Active", "paused": "Paused", "payment_failed": "Payment failed",
                 "unplannable": "Needs a new schedule", "cancelled": "Cancelled",
                 "none": "No autoship"}
_RANKED = ("active", "payment_failed", "unplannable", "paused", "cancelled")  # best first
SORTS = ("tree", "next", "pv", "name")
SORT_LABELS = {"tree": "Tree order", "next": "Next run date", "pv": "PV (highest first)",
               "name": "Name"}
NO_DATE = date(9999, 12, 31)  # sorts people without an active profile after everyone else
MAX_LEVEL = 60
MAX_PAGE_SIZE = 200
RECENT_DAYS = 30


class BadCursor(DomainError):
    status = 400


# ------------------------------------------------------------------ filters and cursors

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


def encode_cursor(sort: str, key, person_id: int) -> str:
    key = key.isoformat() if isinstance(key, date) else key
    raw = json.dumps([sort, key, person_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_PATH = re.compile(r"(?:/[0-9]{1,18})+/")
MEMBER_NUMBER = re.compile(r"[A-Za-z0-9]{1,12}")


def decode_cursor(sort: str, token: str) -> tuple[object, int]:
    """The (sort key, person id) a cursor carries, checked for the sort it was made for."""
    try:
        if len(token) > 1200:
            raise ValueError
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        made_for, key, person_id = json.loads(raw)
        if made_for != sort or type(person_id) is not int or not 0 < person_id < 2**62:
            raise ValueError
        if sort == "tree":
            if not isinstance(key, str) or not _PATH.fullmatch(key):
                raise ValueError
        elif sort == "next":
            key = date.fromisoformat(key)
        elif sort == "pv":
            if type(key) is not int or abs(key) > 2**62:
                raise ValueError
        elif sort == "name":
            if not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) and len(k) <= 80
                                                                    and "\x00" not in k for k in key)):
                raise ValueError
            key = tuple(key)
        else:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise BadCursor("This page link is damaged or out of date. Start again from the first page.")
    return key, person_id


# ------------------------------------------------------------------ per-person expressions

def _stored_pv(profile):
    """The profile's stored cycle PV in hundredths (NULL: nothing in it can be sold)."""
    return type_coerce(profile.cycle_pv, Integer)


def _status_rank(profile):
    return case(*((profile.status == s, n) for n, s in enumerate(_RANKED, 1)))


def _person_columns(person):
    """Correlated per-person values: status rank, soonest active date, active PV, last order.
    The first three read only ix_autoship_profiles_user_id_status."""
    p = aliased(AutoshipProfile)
    rank = (select(func.min(_status_rank(p)))
            .where(p.user_id == person.id).correlate(person).scalar_subquery())
    p2 = aliased(AutoshipProfile)
    next_run = (select(func.min(p2.next_run_date))
                .where(p2.user_id == person.id, p2.status == ProfileStatus.ACTIVE)
                .correlate(person).scalar_subquery())
    p3 = aliased(AutoshipProfile)
    pv = (select(func.coalesce(func.sum(_stored_pv(p3)), 0))
          .where(p3.user_id == person.id, p3.status == ProfileStatus.ACTIVE)
          .correlate(person).scalar_subquery())
    last_order = (select(func.max(Order.placed_at))
                  .where(Order.user_id == person.id, Order.status != "cancelled")
                  .correlate(person).scalar_subquery())
    sponsor = aliased(User)
    sponsor_number = (select(sponsor.member_number).where(sponsor.id == person.sponsor_id)
                      .correlate(person).scalar_subquery())
    return rank, next_run, pv, last_order, sponsor_number


@dataclass(frozen=True)
class TeamRow:
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

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    def days_since_last_order(self, today: date) -> int | None:
        return None if self.last_order_at is None else (today - self.last_order_at.date()).days


@dataclass(frozen=True)
class TeamPage:
    rows: list[TeamRow]
    next_cursor: str | None
    sort: str


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc)


def _like_prefix(text: str) -> str:
    return text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _row_query(person, ancestor: User):
    """A person's row values as a SELECT on ``person``."""
    rank, next_run, pv, last_order, sponsor_number = _person_columns(person)
    return select(person.id, person.member_number, person.first_name, person.last_name,
                  person.role, (person.depth - ancestor.depth).label("level"), person.tree_path,
                  sponsor_number.label("sponsor_number"), rank.label("status_rank"),
                  next_run.label("next_run"), pv.label("pv"), last_order.label("last_order_at"))


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


def _exists_filters(person, filters: TeamFilters) -> list:
    """The status and next-run filters as EXISTS / NOT EXISTS on the person's profiles, which
    both backends run as (anti) semi-joins, instead of comparing per-person aggregates:

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
        better = _RANKED[:_RANKED.index(filters.status)]
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
        clauses.append(rank == _RANKED.index(filters.status) + 1)
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


def export_query(ancestor: User, filters: TeamFilters):
    """The same rows as ``team_page`` in tree order, computed set-based for a whole export:
    the per-person values come from GROUP BYs over the downline's profiles and orders, joined
    to the people once, instead of sub-queries repeated per person."""
    person, in_range = aliased(User, name="person"), aliased(User)
    low, high = downline_bounds(ancestor.tree_path)
    scoped = and_(in_range.tree_path > low, in_range.tree_path < high)
    p = aliased(AutoshipProfile)
    active = p.status == ProfileStatus.ACTIVE
    statuses = (select(p.user_id.label("user_id"), func.min(_status_rank(p)).label("rank"),
                       func.min(case((active, p.next_run_date), else_=None)).label("next_run"),
                       func.sum(case((active, _stored_pv(p)), else_=None)).label("pv"))
                .join(in_range, in_range.id == p.user_id).where(scoped)
                .group_by(p.user_id).subquery("statuses"))
    orders = (select(Order.user_id.label("user_id"), func.max(Order.placed_at).label("last"))
              .join(in_range, in_range.id == Order.user_id)
              .where(scoped, Order.status != "cancelled").group_by(Order.user_id).subquery("orders"))
    sponsor = aliased(User)
    query = (select(person.id, person.member_number, person.first_name, person.last_name,
                    person.role, (person.depth - ancestor.depth).label("level"), person.tree_path,
                    sponsor.member_number, statuses.c.rank, statuses.c.next_run,
                    func.coalesce(statuses.c.pv, 0), type_coerce(orders.c.last, Order.placed_at.type))
             .select_from(person)
             .outerjoin(sponsor, sponsor.id == person.sponsor_id)
             .outerjoin(statuses, statuses.c.user_id == person.id)
             .outerjoin(orders, orders.c.user_id == person.id))
    query = _filtered(query, person, ancestor, filters,
                      *_aggregate_filters(filters, statuses.c.rank, statuses.c.next_run))
    return query.order_by(person.tree_path)


def _row(values) -> TeamRow:
    (pid, number, first, last, role, level, path, sponsor, rank, next_run, pv, last_order) = values
    return TeamRow(id=pid, member_number=number, first_name=first, last_name=last, role=role,
                   level=level, tree_path=path, sponsor_number=sponsor,
                   status=_RANKED[rank - 1] if rank else "none", next_run=_as_date(next_run),
                   pv=Decimal(int(pv or 0)) / 100, last_order_at=_as_datetime(last_order))


def _sort_key(sort: str, row: TeamRow):
    if sort == "tree":
        return row.tree_path
    if sort == "next":
        return row.next_run or NO_DATE
    if sort == "pv":
        return int(row.pv * 100)
    return [row.last_name, row.first_name]


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


def team_rows(session: Session, ancestor: User, filters: TeamFilters, batch: int = 2000):
    """Every person matching ``filters``, in tree order, streamed from the database (one
    statement, set-based; the same rows and values as the pages)."""
    result = session.execute(export_query(ancestor, filters).execution_options(yield_per=batch))
    for values in result:
        yield _row(values)


# ------------------------------------------------------------------ scope checks

def person_in_downline(session: Session, ancestor: User, member_number: str) -> User:
    """The person with ``member_number`` if they are strictly below ``ancestor``; else NotFound,
    whether they exist or not."""
    person = None
    if MEMBER_NUMBER.fullmatch(member_number):
        person = session.scalar(select(User).where(User.member_number == member_number,
                                                   in_downline_of(ancestor.tree_path)))
    if person is None:
        raise NotFound("We could not find that person in your downline.")
    return person


# ------------------------------------------------------------------ totals and forecast

@dataclass
class MonthTotals:
    month: date  # the first of the month
    pv_by_level: dict[int, Decimal] = field(default_factory=dict)
    runs: int = 0

    @property
    def pv(self) -> Decimal:
        return sum(self.pv_by_level.values(), Decimal(0))


@dataclass(frozen=True)
class TeamTotals:
    months: list[MonthTotals]
    levels: list[int]
    profiles_by_status: dict[str, int]
    people_by_status: dict[str, int]
    people: int
    active_profiles: int
    schedules_computed: int  # distinct schedules the forecast stepped through


def _month_starts(today: date, count: int) -> list[date]:
    months, current = [], today.replace(day=1)
    for _ in range(count):
        months.append(current)
        current = (current + timedelta(days=32)).replace(day=1)
    return months


def team_totals(session: Session, ancestor: User, today: date, months: int = 3) -> TeamTotals:
    """PV expected from the downline's active standing orders this month and the next
    ``months - 1``, by level, and counts by status.

    Exact, not approximated: the stored cycle PV of the profiles is summed in one GROUP BY over
    (level, rule, anchor, regularity, next run date), so profiles that share a schedule share
    one row; each distinct schedule is then stepped through in Python (the same ``Schedule``
    the engine uses). Profiles with skipped dates in the window keep a row of their own and get
    their skips. A run that is overdue counts on today, as in the admin forecast. Profiles in
    which nothing can be sold any more bring no run.

    One statement (and one more for the skipped dates, when there are any): the downline's
    profiles are read once, by a range scan of ix_users_downline with one probe of
    ix_autoship_profiles_user_id_status per person, no item read; see ``_totals_statement``."""
    starts = _month_starts(today, months)
    end = (starts[-1] + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    groups, by_rank, total_people = [], [], 0
    for row in session.execute(_totals_statement(ancestor, today, end)):
        if row.kind == _SCHEDULES:
            groups.append((row.level_or_rank, row.rrule, row.anchor_date, row.regularity,
                           row.next_run_date, row.skip_key, row.count, row.pv_or_active))
        elif row.kind == _BEST_STATUS:
            by_rank.append((row.level_or_rank, row.count, row.pv_or_active, row.payment_failed,
                            row.unplannable, row.paused, row.cancelled))
        else:
            total_people = row.count
    skip_ids = [g[5] for g in groups if g[5] is not None]
    skips: dict[int, set[date]] = defaultdict(set)
    if skip_ids:
        for profile_id, day in session.execute(
                select(AutoshipSkip.profile_id, AutoshipSkip.skip_date)
                .where(AutoshipSkip.profile_id.in_(skip_ids), AutoshipSkip.skip_date >= today)):
            skips[profile_id].add(_as_date(day))

    dates_of: dict[tuple, list[date]] = {}
    pv_hundredths: dict[tuple[date, int], int] = defaultdict(int)  # (month, level) -> PV
    runs: dict[date, int] = defaultdict(int)
    for lvl, rrule, anchor, regularity, next_run, key, count, pv in groups:
        signature = (rrule, anchor, regularity, next_run, key)
        months_of = dates_of.get(signature)
        if months_of is None:
            months_of = dates_of[signature] = [
                day.replace(day=1) for day in _run_dates(
                    rrule, _as_date(anchor), regularity, _as_date(next_run),
                    frozenset(skips.get(key, ())), today, end)]
        for month in months_of:
            pv_hundredths[month, lvl] += int(pv)
            runs[month] += count
    by_month = {start: MonthTotals(start, runs=runs.get(start, 0)) for start in starts}
    for (month, lvl), hundredths in pv_hundredths.items():
        by_month[month].pv_by_level[lvl] = Decimal(hundredths) / 100
    levels = {lvl for _, lvl in pv_hundredths}

    people_by_status = dict.fromkeys(STATUSES, 0)
    profiles_by_status: dict[str, int] = dict.fromkeys(_RANKED, 0)
    for rank_value, people, *by_status in by_rank:
        people_by_status[_RANKED[rank_value - 1]] = people
        for status, count in zip(_RANKED, by_status):
            profiles_by_status[status] += int(count or 0)
    people_by_status["none"] = total_people - sum(people_by_status.values())
    return TeamTotals(months=[by_month[s] for s in starts], levels=sorted(levels),
                      profiles_by_status=profiles_by_status, people_by_status=people_by_status,
                      people=total_people, active_profiles=profiles_by_status["active"],
                      schedules_computed=len(dates_of))


_SCHEDULES, _BEST_STATUS, _PEOPLE = 0, 1, 2


def _totals_statement(ancestor: User, today: date, end: date):
    """The downline's profiles read once (a CTE, which both backends materialise when it is
    used twice) and three answers stacked by UNION ALL, told apart by ``kind``:

    * ``_SCHEDULES``: per level and distinct schedule (rule, anchor, regularity, next run, skip
      key) of active profiles due by ``end``: ``count`` profiles bringing ``pv_or_active``
      hundredths of PV;
    * ``_BEST_STATUS``: per status rank, ``count`` people whose best status it is, and their
      profiles in each status (``pv_or_active`` holds the active ones);
    * ``_PEOPLE``: ``count`` people in the downline, with or without a profile.
    """
    person, p = aliased(User), aliased(AutoshipProfile)
    low, high = downline_bounds(ancestor.tree_path)
    profiles = (select(person.id.label("person_id"),
                       (person.depth - ancestor.depth).label("level"), p.id.label("profile_id"),
                       p.status, p.rrule, p.anchor_date, p.regularity, p.next_run_date,
                       _stored_pv(p).label("pv"), _status_rank(p).label("rank"))
                .select_from(person).join(p, p.user_id == person.id)
                .where(person.tree_path > low, person.tree_path < high)
                .cte("downline_profiles"))
    has_skip = exists().where(AutoshipSkip.profile_id == profiles.c.profile_id,
                              AutoshipSkip.skip_date >= today)
    skip_key = case((has_skip, profiles.c.profile_id), else_=None)
    schedule = (profiles.c.level, profiles.c.rrule, profiles.c.anchor_date, profiles.c.regularity,
                profiles.c.next_run_date, skip_key)
    no_number = literal(None, Integer)
    schedules = (select(literal(_SCHEDULES).label("kind"), schedule[0].label("level_or_rank"),
                        *schedule[1:5], skip_key.label("skip_key"), func.count().label("count"),
                        func.sum(profiles.c.pv).label("pv_or_active"),
                        no_number.label("payment_failed"), no_number.label("unplannable"),
                        no_number.label("paused"), no_number.label("cancelled"))
                 .where(profiles.c.status == ProfileStatus.ACTIVE, profiles.c.next_run_date <= end,
                        profiles.c.pv.is_not(None))
                 .group_by(*schedule))
    per_person = (select(func.min(profiles.c.rank).label("best"),
                         *(func.sum(case((profiles.c.status == s, 1), else_=0)).label(s)
                           for s in _RANKED))
                  .group_by(profiles.c.person_id).subquery("per_person"))
    no_text, no_date = literal(None, String), literal(None, Date)
    no_schedule = (no_text, no_date, no_text, no_date, no_number)
    best_statuses = (select(literal(_BEST_STATUS), per_person.c.best, *no_schedule, func.count(),
                            *(func.sum(per_person.c[s]) for s in _RANKED))
                     .group_by(per_person.c.best))
    people = (select(literal(_PEOPLE), no_number, *no_schedule, func.count(), no_number,
                     no_number, no_number, no_number, no_number)
              .select_from(person).where(person.tree_path > low, person.tree_path < high))
    return union_all(schedules, best_statuses, people)


def _run_dates(rrule: str, anchor: date, regularity: str, next_run: date,
               skips: frozenset[date], today: date, end: date) -> list[date]:
    try:
        schedule = Schedule.of(rrule, anchor, regularity, skips)
    except ValueError:  # a rule the parser no longer accepts: no forecast rather than a 500
        return []
    dates, day = [], next_run
    while day is not None and day <= end and len(dates) < 400:
        dates.append(max(day, today))
        try:
            day = schedule.following(day)
        except ValueError:
            break
    return dates


# ------------------------------------------------------------------ attention list

ATTENTION_REASONS = {
    "payment": "Last payment failed",
    "schedule": "Needs a new schedule: none of its dates can be planned",
    "card": "Card expires before the next run",
    "min_pv": "Below the minimum PV",
    "stock": "An item is out of stock",
    "inactive": "An item is no longer sold",
    "cancelled": "Cancelled in the last 30 days",
    "paused": "Paused in the last 30 days",
}


@dataclass(frozen=True)
class AttentionRow:
    profile_id: int
    profile_name: str
    status: str
    next_run: date | None
    person_id: int
    member_number: str
    first_name: str
    last_name: str
    level: int
    tree_path: str
    reasons: list[str]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class AttentionPage:
    rows: list[AttentionRow]
    next_cursor: str | None


def attention_page(session: Session, ancestor: User, *, today: date, min_pv: Decimal,
                   cursor: str | None = None, size: int = 50) -> AttentionPage:
    """Downline profiles that need a word from their upline, in tree order (then profile id),
    each with its reasons. One statement per page."""
    from portal.payments.models import PaymentMethod

    size = max(1, min(size, MAX_PAGE_SIZE))
    since_day = today - timedelta(days=RECENT_DAYS)
    since = datetime.combine(since_day, datetime.min.time(), tzinfo=timezone.utc)
    person, p = aliased(User), aliased(AutoshipProfile)
    low, high = downline_bounds(ancestor.tree_path)

    declined = (exists().where(Order.autoship_profile_id == p.id, ChargeAttempt.order_id == Order.id,
                               ChargeAttempt.outcome == "declined", ChargeAttempt.created_at >= since))
    payment = or_(p.status == ProfileStatus.PAYMENT_FAILED, declined)
    card = aliased(PaymentMethod)
    card_expires = and_(
        p.status == ProfileStatus.ACTIVE, p.next_run_date.is_not(None),
        exists().where(card.id == p.payment_method_id,
                       card.exp_year * 12 + card.exp_month
                       < extract("year", p.next_run_date) * 12 + extract("month", p.next_run_date)))
    cycle_pv = func.coalesce(_stored_pv(p), 0)
    min_hundredths = int(Decimal(min_pv) * 100)
    below_min = (and_(p.status == ProfileStatus.ACTIVE, cycle_pv < min_hundredths)
                 if min_hundredths > 0 else false())
    i3, u3 = aliased(AutoshipItem), aliased(ProductUnit)
    out_of_stock = and_(p.status.in_((ProfileStatus.ACTIVE, ProfileStatus.PAUSED)), exists().where(
        i3.profile_id == p.id, u3.product_id == i3.product_id, u3.code == i3.unit_code,
        StockLevel.product_id == i3.product_id,
        StockLevel.on_hand - StockLevel.allocated < i3.quantity * u3.eaches_per_unit))
    i4, u4, pr4 = aliased(AutoshipItem), aliased(ProductUnit), aliased(Product)
    inactive = and_(p.status != ProfileStatus.CANCELLED, exists().where(
        i4.profile_id == p.id, pr4.id == i4.product_id,
        ~and_(pr4.active.is_(True), exists().where(u4.product_id == i4.product_id,
                                                   u4.code == i4.unit_code, u4.active.is_(True)))))
    cancelled = and_(p.status == ProfileStatus.CANCELLED, p.cancelled_at >= since)
    paused = and_(p.status == ProfileStatus.PAUSED, or_(
        p.updated_at >= since,
        exists().where(AutoshipEvent.profile_id == p.id, AutoshipEvent.action == "paused",
                       AutoshipEvent.at >= since)))
    unplannable = p.status == ProfileStatus.UNPLANNABLE
    flags = {"payment": payment, "schedule": unplannable, "card": card_expires, "min_pv": below_min, "stock": out_of_stock,
             "inactive": inactive, "cancelled": cancelled, "paused": paused}
    level = (person.depth - ancestor.depth).label("level")
    query = (select(p.id, p.name, p.status, p.next_run_date, person.id, person.member_number,
                    person.first_name, person.last_name, level, person.tree_path,
                    *(case((condition, 1), else_=0).label(name) for name, condition in flags.items()))
             .join(person, person.id == p.user_id)
             .where(person.tree_path > low, person.tree_path < high, or_(*flags.values())))
    if cursor:
        key, profile_id = decode_cursor("tree", cursor)
        query = query.where(tuple_(person.tree_path, p.id) > tuple_(literal(key), literal(profile_id)))
    result = session.execute(query.order_by(person.tree_path, p.id).limit(size + 1)).all()
    rows = [AttentionRow(profile_id=r[0], profile_name=r[1], status=r[2], next_run=_as_date(r[3]),
                         person_id=r[4], member_number=r[5], first_name=r[6], last_name=r[7],
                         level=r[8], tree_path=r[9],
                         reasons=[ATTENTION_REASONS[name] for name, flag in zip(flags, r[10:]) if flag])
            for r in result]
    more = len(rows) > size
    rows = rows[:size]
    return AttentionPage(rows=rows, next_cursor=encode_cursor("tree", rows[-1].tree_path,
                                                              rows[-1].profile_id) if more else None)


# ------------------------------------------------------------------ tree

@dataclass(frozen=True)
class TreeNode:
    id: int
    member_number: str
    first_name: str
    last_name: str
    role: str
    tree_path: str
    recruits: int
    status: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def direct_recruits_page(session: Session, sponsor: User, *, after: str | None = None,
                         size: int = 100) -> tuple[list[TreeNode], str | None]:
    """A person's direct recruits in tree order, each with their own recruit count and
    autoship status: one statement."""
    person, child = aliased(User), aliased(User)
    rank, *_ = _person_columns(person)
    recruits = (select(func.count()).select_from(child).where(child.sponsor_id == person.id)
                .correlate(person).scalar_subquery())
    query = (select(person.id, person.member_number, person.first_name, person.last_name,
                    person.role, person.tree_path, recruits, rank)
             .where(person.sponsor_id == sponsor.id).order_by(person.tree_path).limit(size + 1))
    if after:
        query = query.where(person.tree_path > after)
    nodes = [TreeNode(*r[:6], recruits=r[6], status=_RANKED[r[7] - 1] if r[7] else "none")
             for r in session.execute(query)]
    more = len(nodes) > size
    nodes = nodes[:size]
    return nodes, (nodes[-1].tree_path if more else None)


# ------------------------------------------------------------------ one person, as the upline sees them

@dataclass(frozen=True)
class ProfileView:
    profile: AutoshipProfile
    summary: object  # portal.autoship.queries.ProfileSummary
    card_status: str
    card_ok: bool
    city: str
    region: str
    events: list[AutoshipEvent]


def person_profiles(session: Session, person: User, *, today: date, rules, shipping) -> list[ProfileView]:
    """Every standing order of ``person`` with what an upline may see of it: never the card
    beyond its status, never the street."""
    from portal.addresses.models import Address
    from portal.autoship.queries import history, summarize
    from portal.payments.models import PaymentMethod

    profiles = list(session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.user_id == person.id)
        .options(selectinload(AutoshipProfile.items), selectinload(AutoshipProfile.skips))
        .order_by(AutoshipProfile.status == ProfileStatus.CANCELLED, AutoshipProfile.next_run_date,
                  AutoshipProfile.id)))
    views = []
    for profile in profiles:
        card = session.get(PaymentMethod, profile.payment_method_id)
        address = session.get(Address, profile.address_id)
        card_status, card_ok = describe_card(card, profile, today)
        views.append(ProfileView(profile=profile, summary=summarize(profile, today, rules, shipping),
                                 card_status=card_status, card_ok=card_ok,
                                 city=address.city if address else "", region=address.region if address else "",
                                 events=history(session, profile, limit=20)))
    return views


def describe_card(card, profile: AutoshipProfile, today: date) -> tuple[str, bool]:
    """The card's status in words, without brand, digits or expiry."""
    if card is None or card.archived_at is not None:
        return "No card on file", False
    if card.expired_on(today):
        return "Card on file has expired", False
    if profile.status == ProfileStatus.ACTIVE and profile.next_run_date is not None \
            and card.expired_on(profile.next_run_date):
        return "Card on file expires before the next run", False
    return "Card on file, valid for the next run", True

