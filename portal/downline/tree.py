"""The team tree: a person's direct recruits, one level at a time, each with their own recruit
count and best status, so that the page can open any branch on demand."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import User
from portal.downline.statuses import TeamPerson, best_status_rank, status_of_rank


@dataclass(frozen=True)
class TreeNode(TeamPerson):
    id: int
    member_number: str
    first_name: str
    last_name: str
    role: str
    tree_path: str
    recruits: int
    status: str


def direct_recruits_page(session: Session, sponsor: User, *, after: str | None = None,
                         size: int = 100) -> tuple[list[TreeNode], str | None]:
    """A person's direct recruits in tree order, each with their own recruit count and
    autoship status: one statement."""
    person, child = aliased(User), aliased(User)
    recruits = (select(func.count()).select_from(child).where(child.sponsor_id == person.id)
                .correlate(person).scalar_subquery())
    query = (select(person.id, person.member_number, person.first_name, person.last_name,
                    person.role, person.tree_path, recruits, best_status_rank(person))
             .where(person.sponsor_id == sponsor.id).order_by(person.tree_path).limit(size + 1))
    if after:
        query = query.where(person.tree_path > after)
    nodes = [TreeNode(*r[:6], recruits=r[6], status=status_of_rank(r[7]))
             for r in session.execute(query)]
    more = len(nodes) > size
    nodes = nodes[:size]
    return nodes, (nodes[-1].tree_path if more else None)
