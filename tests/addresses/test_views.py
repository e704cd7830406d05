"""The address book over HTTP: add, edit, remove, choose the default; refusals beside the field."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.addresses.models import Address
from tests.accounts.web import error_beside, form_values
from tests.addresses.test_services import twin_arrives_after_the_check
from tests.conftest import log_in, post_form
from tests.factories import make_address, make_user

CSRF_MESSAGE = "This form has expired or was not sent from this site."


def address_form(**overrides) -> dict:
    data = dict(moniker="Home", full_name="Pat Example", line1="1 Main Street", line2="Apt 2",
                city="Springfield", region="IL", postal_code="62704", country="US",
                phone="+1 (217) 555-0100")
    data.update(overrides)
    return data


def snapshot(session) -> list[tuple]:
    """Every address row, as the database has it."""
    return [(a.id, a.user_id, a.moniker, a.full_name, a.line1, a.line2, a.city, a.region,
             a.postal_code, a.country, a.phone, a.is_default, a.archived_at)
            for a in session.scalars(select(Address).order_by(Address.id))]


def live_monikers(session, person) -> dict[str, bool]:
    return {a.moniker: a.is_default for a in session.scalars(
        select(Address).where(Address.user_id == person.id, Address.archived_at.is_(None)))}


def add(client, **overrides):
    return post_form(client, "/addresses/new", address_form(**overrides), page="/addresses/new")


@pytest.fixture
def member(client, session):
    person = make_user(session)
    log_in(client, person)
    return person


def test_adding_the_first_address_makes_it_the_default(client, session, member):
    response = add(client)

    assert response.status_code == 303
    assert response.headers["Location"] == "/addresses/"
    assert live_monikers(session, member) == {"Home": True}
    page = client.get("/addresses/").get_data(as_text=True)
    assert "Home" in page and "1 Main Street" in page and "Default" in page


def test_a_second_address_is_not_the_default_unless_asked(client, session, member):
    add(client, moniker="Home")
    add(client, moniker="Office")
    assert live_monikers(session, member) == {"Home": True, "Office": False}
    add(client, moniker="Cabin", make_default="y")
    assert live_monikers(session, member) == {"Home": False, "Office": False, "Cabin": True}


def test_editing_an_address(client, session, member):
    address = make_address(session, member, moniker="Home")
    page = client.get(f"/addresses/{address.id}/edit")
    assert form_values(page)["city"] == "Springfield"

    response = post_form(client, f"/addresses/{address.id}/edit",
                         address_form(moniker="Home", city="Chicago", postal_code="60601"),
                         page=f"/addresses/{address.id}/edit")

    assert response.status_code == 303
    assert (address.city, address.postal_code, address.masked) == ("Chicago", "60601", "...Chicago 606**")
    page = client.get("/addresses/").get_data(as_text=True)
    assert "Chicago, IL 60601" in page and "Springfield" not in page


def test_editing_can_make_an_address_the_default(client, session, member):
    make_address(session, member, moniker="Home")
    office = make_address(session, member, moniker="Office")
    post_form(client, f"/addresses/{office.id}/edit", address_form(moniker="Office", make_default="y"),
              page=f"/addresses/{office.id}/edit")
    assert live_monikers(session, member) == {"Home": False, "Office": True}


def test_choosing_another_default(client, session, member):
    make_address(session, member, moniker="Home")
    office = make_address(session, member, moniker="Office")
    response = post_form(client, f"/addresses/{office.id}/default", page="/addresses/")
    assert response.status_code == 303
    assert live_monikers(session, member) == {"Home": False, "Office": True}
    page = client.get("/addresses/").get_data(as_text=True)
    assert re.findall(r'<strong>(\w+)</strong> <span class="chip">Default</span>', page) == ["Office"]


def test_removing_the_default_promotes_another_address(client, session, member):
    home = make_address(session, member, moniker="Home")
    make_address(session, member, moniker="Office")

    response = post_form(client, f"/addresses/{home.id}/remove", page="/addresses/")

    assert response.status_code == 303
    assert live_monikers(session, member) == {"Office": True}
    assert home.archived_at is not None  # kept for the orders that used it
    page = client.get("/addresses/").get_data(as_text=True)
    assert "<strong>Home</strong>" not in page and "<strong>Office</strong>" in page


@pytest.mark.parametrize("taken, typed", [("Home", "Home"), ("Home", "home"), ("Home", " HOME "),
                                          ("Café", "CAFÉ")])
def test_a_moniker_already_in_use_is_refused_beside_the_field(client, session, member, taken, typed):
    make_address(session, member, moniker=taken)
    before = snapshot(session)

    response = add(client, moniker=typed)

    assert response.status_code == 422
    assert "You already have an address called" in error_beside(response, "moniker")
    assert snapshot(session) == before


def test_renaming_onto_another_moniker_is_refused_beside_the_field(client, session, member):
    make_address(session, member, moniker="Home")
    office = make_address(session, member, moniker="Office")
    before = snapshot(session)

    response = post_form(client, f"/addresses/{office.id}/edit", address_form(moniker="home"),
                         page=f"/addresses/{office.id}/edit")

    assert response.status_code == 422
    assert "already have an address called" in error_beside(response, "moniker")
    assert snapshot(session) == before


def test_a_moniker_another_request_saves_meanwhile_is_a_422_with_the_usual_message(
        client, session, member, monkeypatch):
    twin_arrives_after_the_check(monkeypatch, member, "HOME")

    response = add(client, moniker="home")

    assert response.status_code == 422
    assert "You already have an address called" in error_beside(response, "moniker")
    assert "home" not in live_monikers(session, member)


@pytest.mark.parametrize("method, url", [
    ("get", "/addresses/{id}/edit"), ("post", "/addresses/{id}/edit"),
    ("post", "/addresses/{id}/default"), ("post", "/addresses/{id}/remove"),
])
def test_another_person_s_address_is_not_found_and_stays_as_it_was(client, session, member, method, url):
    make_address(session, member, moniker="Mine")
    stranger = make_user(session)
    theirs = make_address(session, stranger, moniker="Theirs")
    make_address(session, stranger, moniker="Second")
    before = snapshot(session)

    if method == "get":
        response = client.get(url.format(id=theirs.id))
    else:
        response = post_form(client, url.format(id=theirs.id), address_form(moniker="Stolen"),
                             page="/addresses/")

    assert response.status_code == 404
    assert "That address is not in your address book." in response.get_data(as_text=True)
    assert "Theirs" not in response.get_data(as_text=True)
    assert snapshot(session) == before


@pytest.mark.parametrize("url", ["/addresses/987654/edit", "/addresses/987654/remove"])
def test_an_unknown_address_is_not_found(client, member, url):
    response = post_form(client, url, address_form(), page="/addresses/")
    assert response.status_code == 404
    assert "That address is not in your address book." in response.get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("postal_code", "6", "Enter a valid ZIP or postal code."),
    ("postal_code", "62704!", "Enter a valid ZIP or postal code."),
    ("postal_code", "-62704", "Enter a valid ZIP or postal code."),
    ("postal_code", "x" * 10_000, "Enter a valid ZIP or postal code."),
    ("postal_code", "６２７０４", "Enter a valid ZIP or postal code."),
    ("country", "USA", "Use the two-letter country code, like US."),
    ("country", "1", "Use the two-letter country code, like US."),
    ("country", "ÜS", "Use the two-letter country code, like US."),
    ("phone", "call me", "Enter a valid phone number."),
    ("phone", "5" * 31, "Enter a valid phone number."),
    ("moniker", "", "Give the address a name, like Home."),
    ("moniker", "   ", "Give the address a name, like Home."),
    ("moniker", "x" * 41, "At most 40 characters."),
    ("full_name", "", "Enter who receives the parcel."),
    ("full_name", "x" * 10_000, "Field cannot be longer than 120 characters."),
    ("line1", "", "Enter the street address."),
    ("line1", "\t ", "Enter the street address."),
    ("line2", "x" * 10_000, "Field cannot be longer than 120 characters."),
    ("city", "", "Enter the city."),
    ("city", "x" * 10_000, "Field cannot be longer than 80 characters."),
    ("region", "", "Enter the state or region."),
    ("postal_code", "", "Enter the ZIP or postal code."),
    ("postal_code", "ABCDE", "A US ZIP code is 5 digits, or ZIP+4 like 62704-1234."),
    ("postal_code", "6270", "A US ZIP code is 5 digits, or ZIP+4 like 62704-1234."),
    ("postal_code", "62704-12", "A US ZIP code is 5 digits, or ZIP+4 like 62704-1234."),
    ("country", "", "Enter the two-letter country code."),
    *[(field, "A\x00B", "Remove the control characters from this field.")
      for field in ("moniker", "full_name", "line1", "line2", "city", "region")],
])
def test_bad_input_is_refused_beside_its_field_and_nothing_is_saved(client, session, member,
                                                                     field, value, message):
    before = snapshot(session)

    response = add(client, **{field: value})

    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert snapshot(session) == before


@pytest.mark.parametrize("field", ["moniker", "full_name", "line1", "city", "region", "postal_code", "country"])
def test_a_missing_field_is_refused_beside_it(client, session, member, field):
    data = address_form()
    del data[field]
    response = post_form(client, "/addresses/new", data, page="/addresses/new")
    assert response.status_code == 422
    assert error_beside(response, field)
    assert snapshot(session) == []


def test_a_refused_edit_keeps_the_typed_values_and_the_stored_ones(client, session, member):
    address = make_address(session, member, moniker="Home")
    before = snapshot(session)
    response = post_form(client, f"/addresses/{address.id}/edit",
                         address_form(moniker="Home", city="Chicago", postal_code="?"),
                         page=f"/addresses/{address.id}/edit")
    assert response.status_code == 422
    assert form_values(response)["city"] == "Chicago"
    assert snapshot(session) == before


def test_unicode_addresses_are_welcome(client, session, member):
    response = add(client, moniker="Büro", full_name="Zoë Ørsted", line1="Ölgasse 3", city="Zürich",
                   region="ZH", postal_code="8001", country="ch", phone="")
    assert response.status_code == 303
    address = session.scalar(select(Address))
    assert (address.moniker, address.full_name, address.city, address.country) == \
        ("Büro", "Zoë Ørsted", "Zürich", "CH")
    page = client.get("/addresses/").get_data(as_text=True)
    assert "<strong>Büro</strong>" in page and "Zoë Ørsted<br>Ölgasse 3<br>Apt 2<br>Zürich, ZH 8001<br>CH" in page


def test_the_address_book_needs_a_shopper(client, session):
    anonymous = client.get("/addresses/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Faddresses%2F"
    log_in(client, make_user(session, role="admin"))
    refused = client.get("/addresses/")
    assert refused.status_code == 403
    assert "Your account cannot use this page." in refused.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused_and_nothing_saved(client, session, member):
    response = client.post("/addresses/new", data=address_form())
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert snapshot(session) == []


ADDRESS_FIELDS = tuple(address_form().keys()) + ("make_default",)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.fixed_dictionaries({}, optional={name: st.text(max_size=200) for name in ADDRESS_FIELDS}))
def test_random_text_in_the_address_form_never_causes_a_server_error(client, session, member, typed):
    response = add(client, **typed)
    assert response.status_code in (303, 422)
    if response.status_code == 422:
        assert re.search(r'class="field-error"|flash-error', response.get_data(as_text=True))
