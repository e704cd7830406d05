"""Placing people in the sponsor tree."""

from __future__ import annotations

from sqlalchemy.orm import Session

from portal.accounts.models import Role, User

MAX_DEPTH = 60


def child_path(parent_path: str, user_id: int) -> str:
    return f"{parent_path}{user_id}/"


def place_in_tree(session: Session, user: User, sponsor: User | None) -> None:
    """Give ``user`` its sponsor and materialised path. ``sponsor=None`` makes the root."""
    if sponsor is not None and sponsor.role != Role.IBO:
        raise ValueError("only IBOs sponsor")
    if sponsor is not None and sponsor.depth + 1 > MAX_DEPTH:
        raise ValueError("the genealogy is deeper than supported")
    user.sponsor = sponsor
    session.flush()  # the path contains the user's own id
    user.tree_path = child_path(sponsor.tree_path if sponsor else "/", user.id)
    user.depth = sponsor.depth + 1 if sponsor else 0
    session.flush()
