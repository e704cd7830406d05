"""Finding a member: by name, email, member number, order number or tracking number (everyone
with an order in that parcel's shipment), fast at a million members.

Every branch is one ordered range of one index, cut at the limit: an exact member number
(unique index), an order number (the order's primary key), and the prefix of a last name,
first name or email (``ix_users_search_*``, over ``search_key``, byte order), so the answer
takes the same few milliseconds whether "smi" matches ten people or ten thousand. Two words
are a first and a last name (either way round). pg_trgm would also find the middle of a
word, but the embedded PostgreSQL has no pg_trgm (see migration ``support``); staff type
beginnings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import Role, User, search_key
from portal.fulfilment.models import ShipmentPick, TrackingNumber
from portal.fulfilment.tracking import NUMBER_PATTERN
from portal.orders.models import Order
from portal.orders.rules import ORDER_NUMBER_PREFIX

MAX_QUERY_LENGTH = 100
ROLES = (Role.MEMBER, Role.IBO, Role.SUPPORT, Role.ADMIN)
ORDER_NUMBER = re.compile(rf"(?i){ORDER_NUMBER_PREFIX}0*(\d{{1,12}})")

# More exact identifiers: functions (session, query text) -> the ids of the people it names
# (one indexed lookup each).
IDENTIFIER_LOOKUPS: list[Callable[[Session, str], list[int]]] = []


@dataclass(frozen=True)
class Found:
    people: list[User]
    exact: set[int]   # the ids named by a number (member, order, tracking)
    more: bool        # more people match than are shown: type more of the name


def tidy(text: str) -> str:
    return " ".join((text or "").split())[:MAX_QUERY_LENGTH]


def _prefix(text: str) -> str:
    """A LIKE pattern for "begins with ``text``" (PostgreSQL's default escape is the backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _by_order_number(session: Session, text: str) -> list[int]:
    match = ORDER_NUMBER.fullmatch(text)
    if not match:
        return []
    user_id = session.scalar(select(Order.user_id).where(Order.id == int(match.group(1))))
    return [user_id] if user_id else []


def _by_tracking_number(session: Session, text: str) -> list[int]:
    """The people with an order in the shipment of that parcel: the unique number, then the
    shipment's picks by their index. Numbers are kept as fulfilment writes them: no spaces or
    dashes, upper case."""
    number = re.sub(r"[ -]", "", text).upper()
    if not NUMBER_PATTERN.fullmatch(number):
        return []
    return list(session.scalars(
        select(Order.user_id).distinct()
        .join(ShipmentPick, ShipmentPick.order_id == Order.id)
        .join(TrackingNumber, TrackingNumber.shipment_id == ShipmentPick.shipment_id)
        .where(TrackingNumber.number == number).order_by(Order.user_id)))


def _by_member_number(session: Session, text: str) -> list[int]:
    if not text.isdigit():
        return []
    return list(session.scalars(select(User.id).where(User.member_number == text)))


def _prefix_queries(text: str, limit: int) -> list[Select]:
    words = text.lower().split()
    first, last, email = search_key("first_name"), search_key("last_name"), search_key("email")
    queries = []
    if len(words) == 1 and not text.isdigit():  # a number is nobody's name
        pattern = _prefix(words[0])
        queries += [select(User).where(last.like(pattern)).order_by(last, first),
                    select(User).where(first.like(pattern)).order_by(first, last)]
    elif len(words) > 1:
        head, rest = _prefix(words[0]), _prefix(" ".join(words[1:]))
        queries += [select(User).where(first.like(head), last.like(rest)).order_by(first, last),
                    select(User).where(last.like(head), first.like(rest)).order_by(last, first)]
    if len(words) == 1 or "@" in text:
        queries.append(select(User).where(email.like(_prefix(text.lower()))).order_by(email))
    return [query.limit(limit + 1).options(selectinload(User.sponsor)) for query in queries]


def find_members(session: Session, text: str, *, role: str = "", limit: int = 50) -> Found:
    """The people ``text`` names or whose name or email begins with it, numbers first, then
    by name; the newest people when ``text`` is empty. ``role`` narrows to one role."""
    text = tidy(text)
    role_filter = [User.role == role] if role in ROLES else []
    if not text:
        people = list(session.scalars(select(User).where(*role_filter).options(selectinload(User.sponsor))
                                      .order_by(User.id.desc()).limit(limit + 1)))
        return Found(people=people[:limit], exact=set(), more=len(people) > limit)
    exact_ids: list[int] = []
    for lookup in (_by_member_number, _by_order_number, _by_tracking_number, *IDENTIFIER_LOOKUPS):
        exact_ids += [found for found in lookup(session, text) if found not in exact_ids]
    exact = list(session.scalars(select(User).where(User.id.in_(exact_ids), *role_filter)
                                 .options(selectinload(User.sponsor)))) if exact_ids else []
    exact.sort(key=lambda person: exact_ids.index(person.id))
    named, more = {}, False
    for query in _prefix_queries(text, limit):
        rows = list(session.scalars(query.where(*role_filter)))
        more = more or len(rows) > limit
        named.update((person.id, person) for person in rows[:limit])
    by_name = sorted((p for p in named.values() if p.id not in exact_ids),
                     key=lambda p: (p.last_name.lower(), p.first_name.lower(), p.id))
    people = exact + by_name
    return Found(people=people[:limit], exact={p.id for p in exact},
                 more=more or len(people) > limit)
