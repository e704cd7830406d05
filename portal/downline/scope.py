"""Whose team a page shows, and who is in it.

Everything on the team pages is scoped by the team owner's materialised path (one index range,
see ``portal.genealogy.queries``). A person named in a URL is looked up inside that range, so an
id outside it is not found whether it exists or not: the pages never trust an id they were not
handed by these checks.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.errors import NotFound
from portal.genealogy.queries import in_downline_of

MEMBER_NUMBER = re.compile(r"[A-Za-z0-9]{1,12}")


def team_owner(session: Session, member_number: str) -> User:
    """The IBO with ``member_number`` (whose team an admin asked to see); else NotFound."""
    person = None
    if MEMBER_NUMBER.fullmatch(member_number):
        person = session.scalar(select(User).where(User.member_number == member_number,
                                                   User.role == Role.IBO,
                                                   User.tree_path.is_not(None)))
    if person is None:
        raise NotFound("There is no IBO with that member number.")
    return person


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
