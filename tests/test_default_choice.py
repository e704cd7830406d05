"""One default among a person's live items, for addresses and cards alike (portal.default_choice)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.addresses.services import remove_address, set_default_address
from portal.default_choice import archive_keeping_a_default, make_default
from portal.errors import NotFound
from portal.payments.models import PaymentMethod
from portal.payments.services import remove_card, set_default_card
from tests.factories import make_address, make_card, make_user
from tests.races import run_behind

KINDS = {
    "address": (Address, lambda session, person, redis: make_address(session, person)),
    "card": (PaymentMethod, lambda session, person, redis: make_card(session, person, redis)),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request, session, redis):
    model, build = KINDS[request.param]
    return model, lambda person: build(session, person, redis)


def live_defaults(session, model, person) -> list[int]:
    """Read from the database, not from the objects in the session."""
    session.expire_all()
    return list(session.scalars(select(model.id).where(
        model.user_id == person.id, model.is_default.is_(True), model.archived_at.is_(None))))


def test_making_an_item_the_default_clears_the_flag_on_the_owner_s_others_only(session, kind):
    model, build = kind
    person, neighbour = make_user(session), make_user(session)
    first, _, third = build(person), build(person), build(person)
    neighbours = build(neighbour)
    assert live_defaults(session, model, person) == [first.id]

    make_default(session, third)

    assert live_defaults(session, model, person) == [third.id]
    assert live_defaults(session, model, neighbour) == [neighbours.id]


def test_making_the_default_the_default_again_changes_nothing(session, kind):
    model, build = kind
    person = make_user(session)
    first, _ = build(person), build(person)
    make_default(session, first)
    assert live_defaults(session, model, person) == [first.id]


@pytest.mark.parametrize("newest_first", [False, True])
def test_archiving_the_default_promotes_the_first_live_item_in_the_given_order(session, kind,
                                                                                newest_first):
    model, build = kind
    person = make_user(session)
    first, second, already_archived, _, fifth = (build(person) for _ in range(5))
    archive_keeping_a_default(session, already_archived, successor_order=[model.id])
    order = [model.id.desc()] if newest_first else [model.id]

    archive_keeping_a_default(session, first, successor_order=order)

    assert first.archived_at is not None and first.is_default is False
    assert live_defaults(session, model, person) == [fifth.id if newest_first else second.id]
    assert session.get(model, already_archived.id).is_default is False


def test_archiving_an_item_that_is_not_the_default_keeps_the_default(session, kind):
    model, build = kind
    person = make_user(session)
    first, second = build(person), build(person)

    archive_keeping_a_default(session, second, successor_order=[model.id])

    assert second.archived_at is not None
    assert live_defaults(session, model, person) == [first.id]


def test_archiving_the_last_item_leaves_no_default(session, kind):
    model, build = kind
    person = make_user(session)
    only = build(person)

    archive_keeping_a_default(session, only, successor_order=[model.id])

    assert live_defaults(session, model, person) == []
    assert session.scalar(select(func.count()).select_from(model)
                          .where(model.user_id == person.id)) == 1  # archived, not deleted


# --- Under concurrency: the services, two requests of one person at once ----------------------

@dataclass
class Keeper:
    """The address book's or the wallet's services, called as a request would: by ids, with
    whatever session the request has."""

    model: type
    add_item: Callable
    make_item_default: Callable
    remove_item: Callable

    def add(self, session, person_id: int, **options) -> int:
        return self.add_item(session, session.get(User, person_id), **options).id

    def make_default(self, session, person_id: int, item_id: int) -> None:
        self.make_item_default(session, session.get(User, person_id), item_id)

    def remove(self, session, person_id: int, item_id: int) -> None:
        self.remove_item(session, session.get(User, person_id), item_id)


@pytest.fixture(params=sorted(KINDS))
def keeper(request, redis) -> Keeper:
    if request.param == "address":
        return Keeper(Address, lambda session, person, **options: make_address(session, person, **options),
                      lambda session, person, item_id: set_default_address(session, user=person, address_id=item_id),
                      lambda session, person, item_id: remove_address(session, user=person, address_id=item_id))
    return Keeper(PaymentMethod, lambda session, person, **options: make_card(session, person, redis, **options),
                  lambda session, person, item_id: set_default_card(session, user=person, card_id=item_id),
                  lambda session, person, item_id: remove_card(session, user=person, card_id=item_id))


def live_items(session, model, person_id: int) -> list[tuple[int, bool]]:
    session.expire_all()
    return list(session.execute(select(model.id, model.is_default).where(
        model.user_id == person_id, model.archived_at.is_(None)).order_by(model.id)))


def a_person_with(session, keeper: Keeper, items: int) -> tuple[int, list[int]]:
    """A person with ``items`` live items, the first the default, all committed."""
    person_id = make_user(session).id
    ids = [keeper.add(session, person_id) for _ in range(items)]
    session.commit()
    return person_id, ids


@pytest.mark.server
def test_two_requests_adding_a_person_s_first_item_at_once_leave_one_default(app, session, keeper):
    """Two tabs: each finds the book empty. The second waits for the first and then finds one."""
    person_id, _ = a_person_with(session, keeper, 0)
    first = keeper.add(session, person_id)

    second = run_behind(app, session, lambda other: keeper.add(other, person_id))

    assert isinstance(second, int), second
    assert live_items(session, keeper.model, person_id) == [(first, True), (second, False)]


@pytest.mark.server
def test_two_requests_making_different_items_the_default_leave_the_later_one(app, session, keeper):
    person_id, (_, second, third) = a_person_with(session, keeper, 3)
    keeper.make_default(session, person_id, second)

    outcome = run_behind(app, session, lambda other: keeper.make_default(other, person_id, third))

    assert outcome is None, outcome
    assert [item for item, default in live_items(session, keeper.model, person_id) if default] == [third]


@pytest.mark.server
def test_adding_a_default_while_the_default_is_removed_leaves_the_new_one(app, session, keeper):
    person_id, (first, second) = a_person_with(session, keeper, 2)
    keeper.remove(session, person_id, first)  # the second takes over

    added = run_behind(app, session, lambda other: keeper.add(other, person_id, make_default=True))

    assert isinstance(added, int), added
    assert live_items(session, keeper.model, person_id) == [(second, False), (added, True)]


@pytest.mark.server
def test_removing_the_new_default_while_the_old_one_is_removed_hands_it_on_again(app, session, keeper):
    """The second request removes the item the first has just made the default: the last
    one left takes over, it is not left without a default."""
    person_id, (first, second, third) = a_person_with(session, keeper, 3)
    keeper.remove(session, person_id, first)  # the second takes over

    outcome = run_behind(app, session, lambda other: keeper.remove(other, person_id, second))

    assert outcome is None, outcome
    assert live_items(session, keeper.model, person_id) == [(third, True)]


@pytest.mark.server
def test_making_an_item_the_default_while_it_is_removed_is_refused(app, session, keeper):
    person_id, (first, second) = a_person_with(session, keeper, 2)
    keeper.remove(session, person_id, second)

    outcome = run_behind(app, session, lambda other: keeper.make_default(other, person_id, second))

    assert isinstance(outcome, NotFound), outcome
    assert live_items(session, keeper.model, person_id) == [(first, True)]
    assert session.get(keeper.model, second).is_default is False
