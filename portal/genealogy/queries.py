"""Read-side genealogy: downlines as index ranges over the materialised path.

A downline is every path that starts with the ancestor's path. Paths end with '/', and '/'
sorts directly before '0', so "starts with P" is the byte range ``P < path < P[:-1] + '0'``:
one B-tree range scan on both backends (with the "C" collation on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from portal.accounts.models import User


def downline_bounds(ancestor_path: str) -> tuple[str, str]:
    return ancestor_path, ancestor_path[:-1] + "0"


def in_downline_of(ancestor_path: str):
    """A WHERE clause: strictly below the person with ``ancestor_path``."""
    low, high = downline_bounds(ancestor_path)
    return and_(User.tree_path > low, User.tree_path < high)


def is_in_downline(ancestor: User, person: User) -> bool:
    if ancestor.tree_path is None or person.tree_path is None:
        return False
    return person.tree_path != ancestor.tree_path and person.tree_path.startswith(ancestor.tree_path)


def is_in_downline_by_id(session: Session, ancestor_id: int, person_id: int) -> bool:
    paths = dict(session.execute(select(User.id, User.tree_path)
                                 .where(User.id.in_((ancestor_id, person_id)))).all())
    ancestor_path, person_path = paths.get(ancestor_id), paths.get(person_id)
    if ancestor_path is None or person_path is None or ancestor_id == person_id:
        return False
    return person_path.startswith(ancestor_path)


@dataclass(frozen=True)
class DownlineRow:
    id: int
    member_number: str
    first_name: str
    last_name: str
    role: str
    level: int
    sponsor_id: int | None
    tree_path: str


@dataclass(frozen=True)
class DownlinePage:
    rows: list[DownlineRow]
    next_after: str | None  # keyset cursor: the last row's path


def downline_page(session: Session, ancestor: User, *, after: str | None = None,
                  limit: int = 50, max_level: int | None = None) -> DownlinePage:
    """One page of the downline in tree order (depth first), keyset-paginated by path."""
    low, high = downline_bounds(ancestor.tree_path)
    query: Select = (select(User.id, User.member_number, User.first_name, User.last_name,
                            User.role, (User.depth - ancestor.depth).label("level"),
                            User.sponsor_id, User.tree_path)
                     .where(User.tree_path > (after if after and after > low else low),
                            User.tree_path < high)
                     .order_by(User.tree_path).limit(limit + 1))
    if max_level is not None:
        query = query.where(User.depth <= ancestor.depth + max_level)
    rows = [DownlineRow(*row) for row in session.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return DownlinePage(rows=rows, next_after=rows[-1].tree_path if more else None)


def downline_size(session: Session, ancestor: User) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        in_downline_of(ancestor.tree_path))) or 0


def downline_counts_by_level(session: Session, ancestor: User, max_level: int = 30) -> list[tuple[int, int, int]]:
    """(level, people, IBOs among them) for each level below ``ancestor``."""
    level = (User.depth - ancestor.depth).label("level")
    query = (select(level, func.count(), func.sum(case((User.role == "ibo", 1), else_=0)))
             .where(in_downline_of(ancestor.tree_path), User.depth <= ancestor.depth + max_level)
             .group_by(level).order_by(level))
    return [(lvl, count, int(ibos or 0)) for lvl, count, ibos in session.execute(query)]


def upline(session: Session, person: User) -> list[User]:
    """The sponsor chain from the root down to ``person``'s sponsor."""
    if not person.tree_path:
        return []
    ids = [int(part) for part in person.tree_path.strip("/").split("/")[:-1]]
    if not ids:
        return []
    by_id = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    return [by_id[i] for i in ids if i in by_id]


def direct_recruits(session: Session, sponsor: User) -> list[User]:
    return list(session.scalars(select(User).where(User.sponsor_id == sponsor.id)
                                .order_by(User.created_at, User.id)))
