"""One default among a person's live items, for addresses and cards alike (portal.default_choice)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.addresses.models import Address
from portal.default_choice import archive_keeping_a_default, make_default
from portal.payments.models import PaymentMethod
from tests.factories import make_address, make_card, make_user

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
