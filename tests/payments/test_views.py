"""The wallet over HTTP, and the promise that no card number or security code is ever kept."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import String, Text, select

from portal.clock import company_today
from portal.config import TestConfig
from portal.extensions import db
from portal.payments.models import PaymentMethod
from tests.accounts.web import error_beside, form_values
from tests.conftest import log_in, post_form
from tests.factories import make_card, make_user

THIS_YEAR = company_today({"COMPANY_TIMEZONE": TestConfig.COMPANY_TIMEZONE}).year  # module level: no app yet
NEXT_YEAR = THIS_YEAR + 1
CSRF_MESSAGE = "This form has expired or was not sent from this site."


def card_form(**overrides) -> dict:
    data = dict(cardholder="Pat Example", number="4242 4242 4242 4242", exp_month="12",
                exp_year=str(NEXT_YEAR), cvc="123")
    data.update(overrides)
    return data


def add(client, **overrides):
    return post_form(client, "/wallet/new", card_form(**overrides), page="/wallet/new")


def snapshot(session) -> list[tuple]:
    return [(c.id, c.user_id, c.token, c.brand, c.last4, c.exp_month, c.exp_year, c.cardholder,
             c.is_default, c.archived_at)
            for c in session.scalars(select(PaymentMethod).order_by(PaymentMethod.id))]


def live_cards(session, person) -> dict[str, bool]:
    return {f"{c.brand} {c.last4}": c.is_default for c in session.scalars(
        select(PaymentMethod).where(PaymentMethod.user_id == person.id,
                                    PaymentMethod.archived_at.is_(None)))}


@pytest.fixture
def member(client, session):
    person = make_user(session)
    log_in(client, person)
    return person


def test_adding_a_card_keeps_the_token_brand_last_four_and_expiry(client, session, member):
    response = add(client, number="5555 5555 5555 4444", exp_month="3", cvc="987")

    assert response.status_code == 303
    assert response.headers["Location"] == "/wallet/"
    card = session.scalar(select(PaymentMethod))
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.cardholder, card.is_default) == \
        ("Mastercard", "4444", 3, NEXT_YEAR, "Pat Example", True)
    assert card.token.startswith("tok_")
    page = client.get("/wallet/").get_data(as_text=True)
    assert "Mastercard ending 4444" in page and f"03/{NEXT_YEAR % 100:02d}" in page


def test_a_second_card_becomes_the_default_only_when_asked(client, session, member):
    add(client, number="4242424242424242")
    add(client, number="5555555555554444")
    assert live_cards(session, member) == {"Visa 4242": True, "Mastercard 4444": False}
    add(client, number="378282246310005", cvc="4321", make_default="y")
    assert live_cards(session, member) == {"Visa 4242": False, "Mastercard 4444": False, "Amex 0005": True}
    page = client.get("/wallet/").get_data(as_text=True)
    assert re.findall(r'(\w+ ending \d{4}) <span class="chip">Default</span>', page) == ["Amex ending 0005"]


def test_choosing_another_default_card(client, session, member, redis):
    make_card(session, member, redis)
    other = make_card(session, member, redis, number="5555555555554444")
    response = post_form(client, f"/wallet/{other.id}/default", page="/wallet/")
    assert response.status_code == 303
    assert live_cards(session, member) == {"Visa 4242": False, "Mastercard 4444": True}
    page = client.get("/wallet/").get_data(as_text=True)
    assert re.findall(r'(\w+ ending \d{4}) <span class="chip">Default</span>', page) == \
        ["Mastercard ending 4444"]


def test_removing_the_default_card_promotes_another(client, session, member, redis):
    first = make_card(session, member, redis)
    make_card(session, member, redis, number="5555555555554444")
    response = post_form(client, f"/wallet/{first.id}/remove", page="/wallet/")
    assert response.status_code == 303
    assert live_cards(session, member) == {"Mastercard 4444": True}
    assert "Visa ending 4242" not in client.get("/wallet/").get_data(as_text=True)


@pytest.mark.parametrize("url", ["/wallet/{id}/default", "/wallet/{id}/remove"])
def test_another_person_s_card_is_not_found_and_stays_as_it_was(client, session, member, redis, url):
    make_card(session, member, redis)
    stranger = make_user(session)
    theirs = make_card(session, stranger, redis, number="5555555555554444")
    make_card(session, stranger, redis, number="6011111111111117")
    before = snapshot(session)

    response = post_form(client, url.format(id=theirs.id), page="/wallet/")

    assert response.status_code == 404
    assert "That card is not in your wallet." in response.get_data(as_text=True)
    assert snapshot(session) == before
    assert "4444" not in client.get("/wallet/").get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("number", "4242 4242 4242 4241", "That card number is not valid."),
    ("number", "4242 4242 4242 424x", "12 to 19 digits"),
    ("number", "-1", "12 to 19 digits"),
    ("number", "x" * 10_000, "Field cannot be longer than 30 characters."),
    ("number", "４２４２４２４２４２４２４２４２", "12 to 19 digits"),
    ("number", "424242424242424²", "12 to 19 digits"),
    ("number", "3530 1113 3330 0000", "We accept Visa, Mastercard, American Express and Discover."),
    ("number", "", "Enter the card number."),
    ("number", "   ", "Enter the card number."),
    ("exp_month", "13", "The month is 1 to 12."),
    ("exp_month", "0", "The month is 1 to 12."),
    ("exp_month", "-1", "The month is 1 to 12."),
    ("exp_month", "twelve", "Not a valid integer value."),
    ("exp_month", "9" * 40, "The month is 1 to 12."),
    ("exp_month", "", "Enter the expiry month."),
    ("exp_year", "1999", "Enter the four-digit year."),
    ("exp_year", "-2030", "Enter the four-digit year."),
    ("exp_year", "20.30", "Not a valid integer value."),
    ("exp_year", str(THIS_YEAR - 1), "That card has expired."),
    ("exp_year", str(THIS_YEAR + 21), "too far in the future"),
    ("cvc", "12", "The security code of a Visa card has 3 digits."),
    ("cvc", "12345", "Field cannot be longer than 4 characters."),
    ("cvc", "abc", "The security code of a Visa card has 3 digits."),
    ("cvc", "", "Enter the security code."),
    ("cardholder", "", "Enter the name on the card."),
    ("cardholder", "   ", "Enter the name on the card."),
    ("cardholder", "x" * 10_000, "Field cannot be longer than 120 characters."),
    ("cardholder", "Pat\x00Example", "Remove the control characters from this field."),
])
def test_bad_card_input_is_refused_beside_its_field_and_nothing_is_saved(client, session, member,
                                                                          field, value, message):
    response = add(client, **{field: value})

    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert snapshot(session) == []


def test_an_amex_wants_four_digits_of_security_code(client, session, member):
    response = add(client, number="3782 822463 10005", cvc="123")
    assert response.status_code == 422
    assert "4 digits" in error_beside(response, "cvc")
    assert add(client, number="3782 822463 10005", cvc="1234").status_code == 303


def test_unicode_names_on_cards_are_welcome(client, session, member):
    assert add(client, cardholder="Zoë Ørsted-Müller 李").status_code == 303
    assert session.scalar(select(PaymentMethod.cardholder)) == "Zoë Ørsted-Müller 李"
    assert "<td>Zoë Ørsted-Müller 李</td>" in client.get("/wallet/").get_data(as_text=True)


def test_the_wallet_needs_a_shopper(client, session):
    anonymous = client.get("/wallet/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fwallet%2F"
    log_in(client, make_user(session, role="admin"))
    refused = client.get("/wallet/new")
    assert refused.status_code == 403
    assert "Your account cannot use this page." in refused.get_data(as_text=True)


def test_a_card_form_without_its_csrf_token_is_refused_and_nothing_saved(client, session, member):
    response = client.post("/wallet/new", data=card_form())
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert snapshot(session) == []


# --- no card number or security code is ever kept ------------------------------------------

CARDS = [  # (number as typed, security code): distinctive codes, several brands
    ("4242 4242 4242 4242", "987"),
    ("5555555555554444", "987"),
    ("2223 0031 2200 3222", "987"),
    ("3782 822463 10005", "4321"),
    ("6011-1111-1111-1117", "987"),
    ("4000 0000 0000 0002", "987"),  # declines when charged, but is a valid card to keep
]
REFUSED = [  # a wrong security code length, an expired year: the form comes back
    ("4012 8888 8888 1881", "98", {}),
    ("5105 1051 0510 5100", "987", {"exp_year": str(THIS_YEAR - 1)}),
    ("3714 496353 98431", "987", {}),
]


def digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def spellings(number: str) -> set[str]:
    return {number, digits(number), " ".join(re.findall(".{1,4}", digits(number)))}


def standalone(code: str):
    return re.compile(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])")


def every_text_in_the_database(session) -> list[str]:
    """Every value of every text column of every table, whatever the model."""
    texts = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
        if columns:
            for row in session.execute(select(*columns)):
                texts.extend(value for value in row if value is not None)
    return texts


def every_value_in_redis(redis) -> list[str]:
    values = []
    for key in redis.scan_iter("*"):
        values.append(key.decode(errors="replace"))
        kind = redis.type(key).decode()
        if kind == "string":
            found = [redis.get(key)]
        elif kind == "hash":
            found = [item for pair in redis.hgetall(key).items() for item in pair]
        elif kind == "list":
            found = redis.lrange(key, 0, -1)
        elif kind == "set":
            found = list(redis.smembers(key))
        elif kind == "zset":
            found = [member for member, _ in redis.zrange(key, 0, -1, withscores=True)]
        else:
            found = [repr(entry) .encode() for entry in redis.xrange(key)] if kind == "stream" else []
        values.extend(item.decode(errors="replace") for item in found)
    return values


def test_no_card_number_or_security_code_reaches_the_database_the_logs_or_redis(
        client, session, member, redis, caplog):
    for name in [None, *logging.root.manager.loggerDict]:  # every logger, whatever its own level:
        caplog.set_level(logging.DEBUG, logger=name)  # SQL statements with their parameters too

    for number, cvc in CARDS:
        assert add(client, number=number, cvc=cvc).status_code == 303
    for number, cvc, overrides in REFUSED:
        assert add(client, number=number, cvc=cvc, **overrides).status_code == 422

    assert len(live_cards(session, member)) == len(CARDS)
    logs = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert "INSERT INTO payment_methods" in logs  # the logs really were captured
    stored = every_text_in_the_database(session)
    assert any(value.startswith("tok_") for value in stored)  # and so was the database
    in_redis = every_value_in_redis(redis)
    for number, cvc, *_ in CARDS + REFUSED:
        for spelled in spellings(number):
            assert not any(spelled in value for value in stored), spelled
            assert not any(spelled in value for value in in_redis), spelled
            assert spelled not in logs, spelled
        assert cvc not in stored
        assert cvc not in in_redis
        assert not standalone(cvc).search(logs), cvc


@pytest.mark.parametrize("number, cvc, overrides", REFUSED)
def test_a_refused_card_form_does_not_echo_the_number_or_security_code(client, member, number,
                                                                      cvc, overrides):
    response = add(client, number=number, cvc=cvc, **overrides)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for spelled in spellings(number):
        assert spelled not in page
    values = form_values(response)
    assert values["number"] == "" and values["cvc"] == ""
    assert cvc not in values.values()
    assert values["cardholder"] == "Pat Example"  # the harmless fields are kept for correcting


CARD_FIELDS = tuple(card_form().keys()) + ("make_default",)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(typed=st.fixed_dictionaries({}, optional={name: st.text(max_size=120) for name in CARD_FIELDS}))
def test_random_text_in_the_card_form_never_causes_a_server_error(client, session, member, typed):
    response = add(client, **typed)
    assert response.status_code in (303, 422)
