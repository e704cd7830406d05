"""The card-data scan that runs after every test (tests/card_data.py) finds what it must, and
only that: a planted card number or security code in the database, Redis or a log is caught."""

from __future__ import annotations

import json
import logging
import secrets
import uuid

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.mail.services import queue_mail
from portal.queues import get_queue
from tests import card_data
from tests.conftest import CARD_DATA_LOG, scan_and_wipe
from tests.factories import make_user


@pytest.mark.parametrize("text, found", [
    ("4242424242424242", ["424242******4242"]),
    ("card 4242 4242 4242 4242 on file", ["424242******4242"]),
    ("number=4000-0000-0000-0002.", ["400000******0002"]),
    ("'378282246310005'", ["378282*****0005"]),
    ("amex 3782 822463 10005", ["378282*****0005"]),
    ("mastercard 2223003122003222, discover 6011111111111117",
     ["222300******3222", "601111******1117"]),
    ('{"number": "5555555555554444"}', ["555555******4444"]),
])
def test_card_numbers_are_found_however_they_are_written(text, found):
    assert card_data.card_numbers_in(text) == found


@pytest.mark.parametrize("text", [
    "4242424242424241",                              # fails the Luhn check
    "9999999999999995",                              # no card brand starts so
    "1732291234567",                                 # a timestamp in milliseconds
    "42424242424242424242424",                       # too long to be a card
    "0.4242424242424242",                            # a fraction
    "tok_ok_4242424242424242abc",                    # inside a token
    "a4242424242424242",
    "sha256 " + "4242424242424242" + "ab" * 24,      # the start of a hex digest
    str(uuid.UUID("42424242-4242-4242-4242-424242424242")),
    "4242 4242 4242",                                # too short
    "4242 4242-4242 4242",                           # mixed separators are not a card format
    "order SO-20261122-000123, member 20000003, total $1,234.56",
])
def test_digits_that_are_not_a_card_number_are_left_alone(text):
    assert card_data.card_numbers_in(text) == []


@pytest.mark.parametrize("text, found", [
    ("cvc=123", True), ('{"cvv": "1234"}', True), ("'security_code': '999'", True),
    ("card_cvc: 321", True), ("CVV2 = 555", True),
    ("cvc=12", False), ("cvc=12345", False), ("the cvc is required", False), ("price: 123", False),
])
def test_security_codes_are_found_beside_their_name(text, found):
    assert bool(card_data.security_codes_in(text)) == found


def test_a_planted_card_number_and_security_code_are_found_and_then_wiped(app, session, redis):
    person = make_user(session, first_name="4111 1111 1111 1111")
    queue_mail(session, user=person, subject="Your card",
               body=json.dumps({"card": {"last4": "1111", "cvc": "737"}}))
    session.commit()
    redis.set("planted:card", "5555555555554444")
    redis.hset("planted:form", mapping={"security_code": "123", "name": "Pat"})
    get_queue("default", app).enqueue("jobs.fulfilment.plan", "378282246310005",
                                      job_id=f"planted-{secrets.token_hex(4)}")
    findings = card_data.Findings()

    scan_and_wipe(app, "the planting test", findings)

    found = "\n".join(findings.items)
    assert "database users.first_name: card number 411111******1111" in found
    assert """database outbox_messages.body: security code 'cvc": "***'""" in found
    assert "redis planted:card: card number 555555******4444" in found
    assert "redis planted:form: a security code under 'security_code'" in found
    assert "378282*****0005" in found  # inside the compressed arguments of an RQ job
    assert all(item.endswith("[the planting test]") for item in findings.items)
    # wiped: the session's own scan after this test finds nothing of it
    assert session.scalar(select(User)) is None and redis.dbsize() == 0
    assert not card_data.FINDINGS.items or "planting" not in card_data.FINDINGS.report()


def test_a_planted_card_number_in_a_log_record_is_found():
    findings = card_data.Findings()
    handler = card_data.CardDataLogHandler(findings)
    logger = logging.getLogger("tests.planted")
    logger.propagate = False  # the session's own handler must not see it
    logger.addHandler(handler)
    try:
        logger.warning("charging %s with cvc=%s", "4242-4242-4242-4242", "123")
        try:
            raise ValueError("declined: 6011 1111 1111 1117")
        except ValueError:
            logger.exception("gateway error")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    found = "\n".join(findings.items)
    assert "log tests.planted (WARNING): card number 424242******4242" in found
    assert "log tests.planted (WARNING): security code 'cvc=***'" in found
    assert "log tests.planted (ERROR): card number 601111******1117" in found


def test_the_scan_sees_every_log_record_of_the_session():
    assert CARD_DATA_LOG in logging.getLogger().handlers
    before = CARD_DATA_LOG.records
    logging.getLogger("portal.anything").debug("a debug record reaches the scan too")
    assert CARD_DATA_LOG.records == before + 1
