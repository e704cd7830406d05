"""The address book: monikers, the default address, archiving, and other people's addresses."""

from __future__ import annotations

import pytest

from portal.accounts.models import User
from portal.addresses import services
from portal.addresses.models import Address
from portal.addresses.services import (AddressError, add_address, address_book, owned_address,
                                       remove_address, set_default_address, update_address)
from portal.errors import NotFound
from tests.factories import make_address, make_user
from tests.races import run_behind, write_twin

FIELDS = dict(full_name="Pat Example", line1="1 Main Street", line2="", city="Springfield",
              region="IL", postal_code="62704", country="US", phone="")


def add(session, user, moniker: str, **overrides) -> Address:
    return add_address(session, user=user, moniker=moniker, **{**FIELDS, **overrides})


def defaults(session, user) -> list[str]:
    return [a.moniker for a in address_book(session, user) if a.is_default]


def test_the_first_address_becomes_the_default(session):
    person = make_user(session)
    home = add(session, person, "Home")
    office = add(session, person, "Office")
    assert home.is_default and not office.is_default
    assert defaults(session, person) == ["Home"]


def test_a_new_address_can_take_over_as_default(session):
    person = make_user(session)
    add(session, person, "Home")
    add(session, person, "Office", make_default=True)
    assert defaults(session, person) == ["Office"]


def test_typed_values_are_trimmed_and_the_country_code_upper_cased(session):
    person = make_user(session)
    address = add(session, person, "  Home ", city=" Springfield  ", country="us", line2=None)
    assert (address.moniker, address.city, address.country, address.line2) == ("Home", "Springfield", "US", "")


def test_a_blank_country_means_the_united_states(session):
    assert add(session, make_user(session), "Home", country="").country == "US"


@pytest.mark.parametrize("first, second", [
    ("Home", "Home"), ("Home", "home"), ("Home", "HOME"), ("Home", " hOmE "),
    ("Café", "CAFÉ"), ("Ärzte", "ärzte"), ("Straße", "STRASSE"),
])
def test_monikers_are_unique_per_person_whatever_their_case(session, first, second):
    person = make_user(session)
    add(session, person, first)

    with pytest.raises(AddressError, match="already have an address called") as refused:
        add(session, person, second)

    assert refused.value.field == "moniker"
    assert [a.moniker for a in address_book(session, person)] == [first]


def twin_arrives_after_the_check(monkeypatch, person, twin: str) -> None:
    """Another request saves ``twin`` for ``person`` just after the service checked the
    moniker (see tests.races.write_twin)."""
    check, arrived, person_id = services._check_moniker_free, [], person.id

    def check_then_twin(session, user, moniker, except_id):
        check(session, user, moniker, except_id)
        if not arrived:
            arrived.append(twin)
            write_twin(session, Address.__table__, user_id=person_id, moniker=twin,
                       **{name: value for name, value in FIELDS.items() if value})

    monkeypatch.setattr(services, "_check_moniker_free", check_then_twin)


@pytest.mark.server
@pytest.mark.parametrize("twin", ["home", "HOME"])
@pytest.mark.parametrize("action", ["add", "rename"])
def test_a_moniker_saved_concurrently_is_refused_with_the_usual_message_not_a_crash(
        session, monkeypatch, action, twin):
    """The unique index on (person, lower(moniker)) refuses the second write; the service
    answers as its own check would have."""
    person = make_user(session)
    office = add(session, person, "Office")
    session.commit()
    twin_arrives_after_the_check(monkeypatch, person, twin)

    with pytest.raises(AddressError, match='already have an address called "home"') as refused:
        if action == "add":
            add(session, person, "home")
        else:
            update_address(session, user=person, address_id=office.id, **{**FIELDS, "moniker": "home"})

    assert refused.value.field == "moniker"
    assert sorted((a.moniker, a.is_default) for a in address_book(session, person)) == \
        sorted([("Office", True), (twin, False)])


def test_two_people_may_use_the_same_moniker(session):
    add(session, make_user(session), "Home")
    assert add(session, make_user(session), "Home").moniker == "Home"


def test_a_removed_address_frees_its_moniker(session):
    person = make_user(session)
    home = add(session, person, "Home")
    remove_address(session, user=person, address_id=home.id)
    assert add(session, person, "home").moniker == "home"


def test_editing_keeps_the_own_moniker_and_refuses_another_s(session):
    person = make_user(session)
    home = add(session, person, "Home")
    add(session, person, "Office")

    update_address(session, user=person, address_id=home.id, **{**FIELDS, "moniker": "HOME", "city": "Chicago"})
    assert (home.moniker, home.city) == ("HOME", "Chicago")

    with pytest.raises(AddressError) as refused:
        update_address(session, user=person, address_id=home.id, **{**FIELDS, "moniker": "office"})
    assert refused.value.field == "moniker"


def test_setting_a_default_leaves_exactly_one(session):
    person = make_user(session)
    add(session, person, "Home")
    office = add(session, person, "Office")
    add(session, person, "Cabin")
    set_default_address(session, user=person, address_id=office.id)
    assert defaults(session, person) == ["Office"]


def test_removing_the_default_promotes_another_address(session):
    person = make_user(session)
    home = add(session, person, "Home")
    add(session, person, "Office")

    remove_address(session, user=person, address_id=home.id)

    assert home.archived_at is not None and not home.is_default
    assert [a.moniker for a in address_book(session, person)] == ["Office"]
    assert defaults(session, person) == ["Office"]


def test_removing_an_address_that_is_not_the_default_keeps_the_default(session):
    person = make_user(session)
    add(session, person, "Home")
    office = add(session, person, "Office")
    remove_address(session, user=person, address_id=office.id)
    assert defaults(session, person) == ["Home"]


def test_removing_the_last_address_leaves_an_empty_book(session):
    person = make_user(session)
    home = add(session, person, "Home")
    remove_address(session, user=person, address_id=home.id)
    assert address_book(session, person) == []


@pytest.mark.parametrize("action", ["owned", "update", "default", "remove"])
def test_another_person_s_address_is_not_found_and_stays_as_it_was(session, action):
    owner, stranger = make_user(session), make_user(session)
    address = add(session, owner, "Home")
    calls = {
        "owned": lambda: owned_address(session, stranger, address.id),
        "update": lambda: update_address(session, user=stranger, address_id=address.id,
                                         **{**FIELDS, "moniker": "Mine now", "city": "Elsewhere"}),
        "default": lambda: set_default_address(session, user=stranger, address_id=address.id),
        "remove": lambda: remove_address(session, user=stranger, address_id=address.id),
    }
    with pytest.raises(NotFound):
        calls[action]()
    session.refresh(address)
    assert (address.moniker, address.city, address.is_default, address.archived_at) == \
        ("Home", "Springfield", True, None)


def test_a_removed_or_unknown_address_is_not_found(session):
    person = make_user(session)
    home = add(session, person, "Home")
    remove_address(session, user=person, address_id=home.id)
    for address_id in (home.id, 987654):
        with pytest.raises(NotFound):
            owned_address(session, person, address_id)


@pytest.mark.server
def test_saving_an_address_as_the_default_while_another_tab_removes_it_is_not_found(app, session):
    """The edit page has read the address before the other tab's removal committed; saving it
    as the default waits for the removal and then finds it gone, rather than making a removed
    address the default and leaving the book without one."""
    person = make_user(session)
    home, office = add(session, person, "Home"), add(session, person, "Office")
    ids = person.id, home.id, office.id
    session.commit()
    remove_address(session, user=person, address_id=office.id)

    def save_the_edit_page(other):
        person = other.get(User, ids[0])
        office = owned_address(other, person, ids[2])  # loaded by the page, before the wait
        update_address(other, user=person, address_id=office.id, **{**FIELDS, "moniker": "Office"})
        set_default_address(other, user=person, address_id=office.id)

    outcome = run_behind(app, session, save_the_edit_page)

    assert isinstance(outcome, NotFound), outcome
    session.expire_all()
    assert [(a.id, a.is_default) for a in address_book(session, person)] == [(ids[1], True)]
    assert session.get(Address, ids[2]).is_default is False


@pytest.mark.parametrize("city, postal_code, country, masked", [
    ("Springfield", "62704", "US", "...Springfield 627**"),
    ("Springfield", "62704-1234", "US", "...Springfield 627*******"),
    ("London", "SW1A 1AA", "GB", "...London SW1*****"),
    ("Vaduz", "949", "LI", "...Vaduz 949"),
])
def test_the_masked_address_shows_the_city_and_the_start_of_the_postal_code(session, city, postal_code,
                                                                             country, masked):
    address = make_address(session, make_user(session), city=city, postal_code=postal_code,
                           country=country)
    assert address.masked == masked
    assert address.line1 not in address.masked


@pytest.mark.parametrize("country, postal_code, accepted", [
    ("US", "62704", True), ("US", "62704-1234", True), ("us", "62704", True),
    ("US", "ABCDE", False), ("US", "6270", False), ("US", "627041234", False),
    ("US", "62704-", False), ("US", "62704 1234", False),
    ("CH", "8001", True), ("GB", "SW1A 1AA", True), ("CA", "K1A 0B1", True),
])
def test_a_us_address_needs_a_zip_code_other_countries_keep_theirs(session, country, postal_code,
                                                                   accepted):
    person = make_user(session)
    if accepted:
        assert add(session, person, "Home", country=country, postal_code=postal_code).postal_code == postal_code
    else:
        with pytest.raises(AddressError, match="A US ZIP code is 5 digits") as refused:
            add(session, person, "Home", country=country, postal_code=postal_code)
        assert refused.value.field == "postal_code"
        assert address_book(session, person) == []


def test_an_edit_to_a_us_address_is_held_to_the_zip_rule(session):
    person = make_user(session)
    home = add(session, person, "Home")
    with pytest.raises(AddressError, match="A US ZIP code"):
        update_address(session, user=person, address_id=home.id, moniker="Home",
                       **{**FIELDS, "postal_code": "ABCDE"})
