"""Cards: number checks, brands, the sandbox gateway's test numbers, idempotent charges, the wallet."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
import redis as redis_lib
from sqlalchemy import select

from portal.errors import NotFound
from portal.payments.gateway import (CardRejected, GatewayUnavailable, IdempotencyConflict,
                                     PaymentDeclined, SandboxGateway, card_brand, luhn_valid,
                                     validate_card)
from portal.payments.models import PaymentMethod
from portal.payments.services import (CardUnusable, owned_card, remove_card, set_default_card,
                                      usable_card, wallet)
from tests.factories import make_card, make_user

TODAY = date(2026, 6, 15)
VISA = "4242424242424242"
LEDGER = SandboxGateway.KEY_PREFIX + "charge:*"


def ledger_entries(redis) -> int:
    return len(list(redis.scan_iter(LEDGER)))


# --- numbers and brands ---------------------------------------------------------------------

@pytest.mark.parametrize("number, valid", [
    ("4242424242424242", True), ("4242424242424241", False),
    ("378282246310005", True), ("378282246310006", False),
    ("6011111111111117", True), ("5555555555554444", True),
    ("79927398713", True), ("79927398710", False),
    ("0", True), ("18", True), ("10", False),
])
def test_luhn_check(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize("number, brand", [
    ("4242424242424242", "Visa"), ("4222222222222", "Visa"), ("4" + "1" * 18, "Visa"),
    ("5105105105105100", "Mastercard"), ("5555555555554444", "Mastercard"),
    ("5100000000000000", "Mastercard"), ("5599999999999999", "Mastercard"),
    ("2221000000000009", "Mastercard"), ("2720990000000000", "Mastercard"),
    ("2223003122003222", "Mastercard"),
    ("378282246310005", "Amex"), ("341111111111111", "Amex"),
    ("6011111111111117", "Discover"), ("6500000000000000", "Discover"),
    ("6440000000000000", "Discover"), ("6490000000000000", "Discover"),
])
def test_brand_detection(number, brand):
    assert card_brand(number)[0] == brand


@pytest.mark.parametrize("number", [
    "5000000000000000", "5600000000000000",  # just outside Mastercard 51-55
    "2220990000000000", "2721000000000000",  # just outside Mastercard 2221-2720
    "3530111333300000",  # JCB
    "36000000000000",  # Diners
    "6430000000000000", "6010000000000000",  # just outside Discover
    "37828224631000",  # Amex prefix, Visa-like length
    "424242424242424",  # Visa prefix, wrong length
])
def test_numbers_outside_the_accepted_brands_have_no_brand(number):
    assert card_brand(number) is None


@pytest.mark.parametrize("number, cvc, brand", [
    (VISA, "123", "Visa"), ("4242 4242 4242 4242", "123", "Visa"), ("4242-4242-4242-4242", "123", "Visa"),
    ("5555555555554444", "987", "Mastercard"), ("378282246310005", "4321", "Amex"),
    ("6011111111111117", "000", "Discover"),
])
def test_a_usable_card_gives_its_brand(number, cvc, brand):
    assert validate_card(number, 12, TODAY.year + 1, cvc, TODAY) == brand


@pytest.mark.parametrize("number, cvc, message", [
    (VISA, "12", "The security code of a Visa card has 3 digits."),
    (VISA, "1234", "The security code of a Visa card has 3 digits."),
    ("378282246310005", "123", "The security code of a Amex card has 4 digits."),
    ("5555555555554444", "12a", "The security code of a Mastercard card has 3 digits."),
    (VISA, "", "The security code of a Visa card has 3 digits."),
    (VISA, "١٢٣", "The security code of a Visa card has 3 digits."),
    (VISA, "²³⁴", "The security code of a Visa card has 3 digits."),
])
def test_the_security_code_length_depends_on_the_brand(number, cvc, message):
    with pytest.raises(CardRejected) as refused:
        validate_card(number, 12, TODAY.year + 1, cvc, TODAY)
    assert refused.value.message == message


@pytest.mark.parametrize("number, message", [
    ("4242424242424241", "not valid"),
    ("4242 4242 4242 424x", "12 to 19 digits"),
    ("42424242424", "12 to 19 digits"),
    ("4" * 20, "12 to 19 digits"),
    ("", "12 to 19 digits"),
    ("-1", "12 to 19 digits"),
    ("3530111333300000", "We accept Visa, Mastercard, American Express and Discover."),
    ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", "12 to 19 digits"),  # Arabic-Indic digits
    ("４２４２４２４２４２４２４２４２", "12 to 19 digits"),  # full-width digits
    ("424242424242424²", "12 to 19 digits"),  # a superscript two counts as a digit to str.isdigit
])
def test_a_bad_number_is_refused(number, message):
    with pytest.raises(CardRejected, match=message):
        validate_card(number, 12, TODAY.year + 1, "123", TODAY)


@pytest.mark.parametrize("month, year, accepted", [
    (6, 2026, True),  # expires at the end of this month
    (5, 2026, False), (12, 2025, False),
    (12, 2046, True),  # twenty years ahead
    (1, 2047, False),  # further than that is a typing mistake
    (0, 2027, False), (13, 2027, False),
])
def test_expiry_must_be_this_month_or_later_and_not_too_far_ahead(month, year, accepted):
    if accepted:
        assert validate_card(VISA, month, year, "123", TODAY) == "Visa"
    else:
        with pytest.raises(CardRejected):
            validate_card(VISA, month, year, "123", TODAY)


def test_an_expired_card_is_refused_as_expired():
    with pytest.raises(CardRejected, match="That card has expired."):
        validate_card(VISA, 5, 2026, "123", TODAY)


def test_a_far_future_expiry_is_refused_as_such():
    with pytest.raises(CardRejected, match="too far in the future"):
        validate_card(VISA, 1, 2050, "123", TODAY)


# --- the sandbox gateway --------------------------------------------------------------------

def test_tokenizing_keeps_only_the_token_brand_last_four_and_expiry(redis):
    token = SandboxGateway(redis).tokenize("4242 4242 4242 4242", 12, 2030, "987", today=TODAY)
    assert token.token.startswith("tok_") and VISA not in token.token and "987" not in token.token.split("_")
    assert (token.brand, token.last4, token.exp_month, token.exp_year) == ("Visa", "4242", 12, 2030)
    assert ledger_entries(redis) == 0 and not any(VISA.encode() in k for k in redis.keys("*"))


def test_a_good_card_is_charged(redis):
    gateway = SandboxGateway(redis)
    token = gateway.tokenize(VISA, 12, 2030, "123", today=TODAY).token
    charge = gateway.charge(token, Decimal("19.90"), "USD", idempotency_key="order-1")
    assert charge.status == "succeeded" and charge.id.startswith("ch_")
    assert Decimal(charge.amount) == Decimal("19.90")
    assert gateway.charges_for("order-1") == charge


@pytest.mark.parametrize("number, code, message", [
    ("4000000000000002", "card_declined", "Your card was declined."),
    ("4000000000009995", "insufficient_funds", "insufficient funds"),
    ("4000000000000069", "expired_card", "expired"),
    ("4000000000000127", "incorrect_cvc", "security code"),
])
def test_the_sandbox_declines_its_well_known_test_numbers(redis, number, code, message):
    gateway = SandboxGateway(redis)
    token = gateway.tokenize(number, 12, 2030, "123", today=TODAY).token
    with pytest.raises(PaymentDeclined, match=message) as declined:
        gateway.charge(token, Decimal("10.00"), "USD", idempotency_key="order-1")
    assert declined.value.code == code
    assert declined.value.status == 402
    with pytest.raises(PaymentDeclined):  # a retry gets the same answer, not a new attempt
        gateway.charge(token, Decimal("10.00"), "USD", idempotency_key="order-1")
    assert gateway.charges_for("order-1").status == "declined"
    assert ledger_entries(redis) == 1


def test_a_processing_error_is_not_recorded_so_a_retry_is_a_fresh_attempt(redis):
    gateway = SandboxGateway(redis)
    token = gateway.tokenize("4000000000000119", 12, 2030, "123", today=TODAY).token
    for _ in range(2):
        with pytest.raises(GatewayUnavailable) as unavailable:
            gateway.charge(token, Decimal("10.00"), "USD", idempotency_key="order-1")
        assert unavailable.value.status == 503
        assert gateway.charges_for("order-1") is None
    assert ledger_entries(redis) == 0


def test_a_token_the_sandbox_does_not_know_is_declined(redis):
    with pytest.raises(PaymentDeclined) as declined:
        SandboxGateway(redis).charge("tok_forged", Decimal("1.00"), "USD", idempotency_key="k")
    assert declined.value.code == "card_declined"


def test_the_same_idempotency_key_charges_once(redis):
    gateway = SandboxGateway(redis)
    token = gateway.tokenize(VISA, 12, 2030, "123", today=TODAY).token
    first = gateway.charge(token, Decimal("25.00"), "USD", idempotency_key="order-7")
    second = gateway.charge(token, Decimal("25"), "USD", idempotency_key="order-7")
    assert second == first
    assert ledger_entries(redis) == 1
    third = gateway.charge(token, Decimal("25.00"), "USD", idempotency_key="order-8")
    assert third.id != first.id and ledger_entries(redis) == 2


@pytest.mark.parametrize("change", ["amount", "token"])
def test_the_same_key_with_another_request_is_a_conflict(redis, change):
    gateway = SandboxGateway(redis)
    token = gateway.tokenize(VISA, 12, 2030, "123", today=TODAY).token
    original = gateway.charge(token, Decimal("25.00"), "USD", idempotency_key="order-7")
    other_token = gateway.tokenize(VISA, 12, 2030, "123", today=TODAY).token
    with pytest.raises(IdempotencyConflict):
        gateway.charge(other_token if change == "token" else token,
                       Decimal("26.00") if change == "amount" else Decimal("25.00"), "USD",
                       idempotency_key="order-7")
    assert gateway.charges_for("order-7") == original


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5.00")])
def test_only_positive_amounts_are_charged(redis, amount):
    with pytest.raises(ValueError):
        SandboxGateway(redis).charge("tok_ok_x", amount, "USD", idempotency_key="k")


@pytest.mark.server
def test_concurrent_charges_with_one_key_make_one_charge(app, redis):
    url = app.config["REDIS_URL"]
    token = SandboxGateway(redis).tokenize(VISA, 12, 2030, "123", today=TODAY).token
    threads_count = 12
    start = threading.Barrier(threads_count)
    charges, errors = [], []

    def pay():
        connection = redis_lib.Redis.from_url(url)  # each thread its own connection, like a worker
        try:
            start.wait()
            charges.append(SandboxGateway(connection).charge(
                token, Decimal("42.00"), "USD", idempotency_key="double-click"))
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(charges) == threads_count
    assert len({charge.id for charge in charges}) == 1
    assert ledger_entries(redis) == 1


# --- the wallet -----------------------------------------------------------------------------

def test_adding_a_card_keeps_only_what_the_portal_may_keep(session, redis):
    person = make_user(session)
    card = make_card(session, person, redis, number="5555 5555 5555 4444", cvc="987",
                     exp_month=3, exp_year=TODAY.year + 3, today=TODAY)
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.gateway) == \
        ("Mastercard", "4444", 3, TODAY.year + 3, "sandbox")
    assert card.token.startswith("tok_ok_")
    assert card.label == "Mastercard ending 4444"
    assert card.expiry == f"03/{(TODAY.year + 3) % 100:02d}"


def test_the_first_card_is_the_default_and_a_new_one_can_take_over(session, redis):
    person = make_user(session)
    first = make_card(session, person, redis)
    second = make_card(session, person, redis)
    third = make_card(session, person, redis, make_default=True)
    assert [c.id for c in wallet(session, person) if c.is_default] == [third.id]
    set_default_card(session, user=person, card_id=second.id)
    assert [c.id for c in wallet(session, person) if c.is_default] == [second.id]
    assert first.is_default is False


def test_removing_the_default_card_promotes_another(session, redis):
    person = make_user(session)
    first = make_card(session, person, redis)
    second = make_card(session, person, redis)
    remove_card(session, user=person, card_id=first.id)
    assert [(c.id, c.is_default) for c in wallet(session, person)] == [(second.id, True)]
    assert first.archived_at is not None


@pytest.mark.parametrize("action", ["owned", "default", "remove"])
def test_another_person_s_card_is_not_found_and_stays_as_it_was(session, redis, action):
    owner, stranger = make_user(session), make_user(session)
    card = make_card(session, owner, redis)
    calls = {"owned": lambda: owned_card(session, stranger, card.id),
             "default": lambda: set_default_card(session, user=stranger, card_id=card.id),
             "remove": lambda: remove_card(session, user=stranger, card_id=card.id)}
    with pytest.raises(NotFound):
        calls[action]()
    session.refresh(card)
    assert (card.is_default, card.archived_at) == (True, None)


def test_an_expired_card_in_the_wallet_cannot_be_used(session, redis):
    person = make_user(session)
    card = make_card(session, person, redis, exp_month=6, exp_year=2026, today=TODAY)
    assert usable_card(session, person, card.id, TODAY) is card
    with pytest.raises(CardUnusable, match="expired 06/26"):
        usable_card(session, person, card.id, date(2026, 7, 1))


def test_a_refused_card_adds_nothing(session, redis):
    person = make_user(session)
    with pytest.raises(CardRejected):
        make_card(session, person, redis, number="4242424242424241")
    assert session.scalars(select(PaymentMethod)).all() == []
