"""Building sponsor trees with chosen ids, and the brute-force answers to check queries against."""

from __future__ import annotations

from portal.accounts.models import Role, User
from tests.factories import make_user


def build_tree(session, edges: list[tuple[int, int | None, str]]) -> dict[int, User]:
    """People with the given ids, placed in order: (id, sponsor id or None for the root, role)."""
    people: dict[int, User] = {}
    for person_id, sponsor_id, role in edges:
        people[person_id] = make_user(session, id=person_id, role=role,
                                      sponsor=people[sponsor_id] if sponsor_id else None,
                                      root=sponsor_id is None, member_number=f"M{person_id}")
    return people


def ancestors(sponsors: dict[int, int | None], person_id: int) -> list[int]:
    """Walk the sponsor links upwards: nearest sponsor first."""
    chain, current = [], sponsors[person_id]
    while current is not None:
        chain.append(current)
        current = sponsors[current]
    return chain


def descendants(sponsors: dict[int, int | None], ancestor_id: int) -> dict[int, int]:
    """Everyone below ``ancestor_id`` with their level (1 = recruited directly)."""
    below = {}
    for person_id in sponsors:
        chain = ancestors(sponsors, person_id)
        if ancestor_id in chain:
            below[person_id] = chain.index(ancestor_id) + 1
    return below


def is_depth_first(rows, ancestor_id: int) -> bool:
    """Each row's sponsor is the ancestor or a row still open above it (pre-order)."""
    open_rows: list[int] = []
    for row in rows:
        while open_rows and open_rows[-1] != row.sponsor_id:
            open_rows.pop()
        if not open_rows and row.sponsor_id != ancestor_id:
            return False
        open_rows.append(row.id)
    return True


# Ids that share string prefixes, so that '/1/' must not be read as the start of '/12/' or '/123/'.
PREFIX_TREE = [
    (9, None, Role.IBO),
    (1, 9, Role.IBO), (10, 9, Role.IBO), (12, 9, Role.IBO), (123, 9, Role.IBO),
    (11, 1, Role.IBO), (100, 1, Role.MEMBER), (111, 11, Role.MEMBER), (1111, 11, Role.IBO),
    (121, 12, Role.MEMBER), (1234, 123, Role.IBO), (12345, 1234, Role.MEMBER),
    (2, 9, Role.IBO), (21, 2, Role.MEMBER),
]
PREFIX_SPONSORS = {person_id: sponsor_id for person_id, sponsor_id, _ in PREFIX_TREE}
