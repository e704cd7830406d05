"""The default among a person's live items: the default address of the address book, the
default card of the wallet.

Such a model has ``user_id``, ``is_default`` and ``archived_at`` (items are archived, never
deleted), and a partial unique index that allows one default per person among the live rows
(``is_default AND archived_at IS NULL``). ``OwnedItems`` describes one such kind and gives its
services what they share: a person's live items in order, the check that an item is theirs,
choosing the default and removing one. The functions below it take an item already checked to
be the actor's.

Every service that adds, archives or makes the default one of a person's items calls
``lock_owner`` first, before it reads anything: two requests of the same person (two tabs) then
take turns, and the second sees what the first committed, whoever is the default included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from portal.accounts.models import User
from portal.clock import utcnow
from portal.errors import NotFound


class DefaultableItem(Protocol):
    id: int
    user_id: int
    is_default: bool
    archived_at: datetime | None


Item = TypeVar("Item", bound=DefaultableItem)


@dataclass(frozen=True)
class OwnedItems(Generic[Item]):
    """One kind of item a person keeps with a default among them: the address book, the wallet.

    ``order`` lists a person's live items, the default first; when the default is removed, the
    first of the others in that order takes over. ``not_found`` is what a person is told of an
    item that is not among their live ones (someone else's, removed or unknown alike)."""

    model: type[Item]
    order: tuple[ColumnElement, ...]
    not_found: str

    def of(self, session: Session, owner: User) -> list[Item]:
        """The owner's live items in ``order``."""
        model = self.model
        return list(session.scalars(select(model).where(model.user_id == owner.id,
                                                        model.archived_at.is_(None))
                                    .order_by(*self.order)))

    def owned(self, session: Session, owner: User, item_id: int) -> Item:
        # Read afresh: the item may have been loaded before the owner's lock (an edit page).
        item = session.get(self.model, item_id, populate_existing=True)
        if item is None or item.user_id != owner.id or item.archived_at is not None:
            raise NotFound(self.not_found)
        return item

    def choose_default(self, session: Session, owner: User, item_id: int) -> Item:
        """Make the owner's live item ``item_id`` their default; NotFound if it is not theirs."""
        lock_owner(session, owner)
        item = self.owned(session, owner, item_id)
        make_default(session, item)
        return item

    def remove(self, session: Session, owner: User, item_id: int) -> None:
        """Archive the owner's live item ``item_id``, its successor in ``order`` becoming the
        default if it was; NotFound if it is not theirs."""
        lock_owner(session, owner)
        archive_keeping_a_default(session, self.owned(session, owner, item_id),
                                  successor_order=self.order)


def lock_owner(session: Session, owner: User) -> None:
    """Hold the owner's users row until this transaction ends; a concurrent request of the same
    owner waits here, then reads what this one committed.

    Without it two requests could each find no default (or the old one) and both set theirs:
    the unique index would refuse the second, a 500. The lock is FOR NO KEY
    UPDATE, the one 1-Click presses take (portal.oneclick): rows that merely refer to the person
    (orders, addresses) are still inserted meanwhile."""
    session.execute(select(User.id).where(User.id == owner.id).with_for_update(key_share=True))


def make_default(session: Session, item: DefaultableItem) -> None:
    """Make ``item`` its owner's one default. The others lose the flag in a flush of their
    own first: the unique index would refuse two defaults even within one statement."""
    model = type(item)
    session.execute(update(model).where(model.user_id == item.user_id,
                                        model.is_default.is_(True)).values(is_default=False))
    session.flush()
    item.is_default = True
    session.flush()


def archive_keeping_a_default(session: Session, item: DefaultableItem, *,
                              successor_order: Sequence[ColumnElement]) -> None:
    """Archive ``item``. If it was the default, the first of its owner's other live items in
    ``successor_order`` becomes the default; with none left, the owner has no default."""
    item.archived_at = utcnow()
    was_default, item.is_default = item.is_default, False
    session.flush()
    if not was_default:
        return
    model = type(item)
    successor = session.scalars(select(model).where(model.user_id == item.user_id,
                                                    model.archived_at.is_(None))
                                .order_by(*successor_order).limit(1)).first()
    if successor is not None:
        make_default(session, successor)
