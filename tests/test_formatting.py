"""One way to write money, volume, counts and dates: what people read is the same on a page,
in a flash message and in a mail."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal import formatting
from portal.catalog.models import unit_count
from portal.mail.models import OutboxMessage
from tests.conftest import log_in
from tests.factories import make_paid_order, make_product, make_user


@pytest.mark.parametrize("value, written", [
    (Decimal("1250.34"), "$1,250.34"), (Decimal("25.95"), "$25.95"), (Decimal("0"), "$0.00"),
    (Decimal("1234567.5"), "$1,234,567.50"), ("5.9", "$5.90"), (None, ""),
])
def test_money_is_dollars_with_grouping_and_cents(value, written):
    assert formatting.money(value) == written


def test_volume_and_counts_are_grouped():
    assert (formatting.volume(Decimal("1250")), formatting.volume(None)) == ("1,250.00", "")
    assert formatting.number(12500) == "12,500"


@pytest.mark.parametrize("quantity, code, written", [
    (1, "each", "1 each"), (2, "each", "2 eaches"), (0, "each", "0 eaches"),
    (1, "case", "1 case"), (3, "case", "3 cases"), (1, "lot", "1 lot"), (1500, "each", "1,500 eaches"),
])
def test_a_quantity_agrees_with_its_unit(quantity, code, written):
    assert unit_count(quantity, code) == written


def test_dates_and_moments_are_words_in_the_company_timezone():
    assert formatting.day(date(2027, 2, 1)) == "Feb 1, 2027"
    assert formatting.day(date(2027, 2, 1), "long") == "Monday, February 1, 2027"
    # 02:05 UTC on Feb 2 is still Feb 1 in Chicago
    moment = datetime(2027, 2, 2, 2, 5, tzinfo=timezone.utc)
    assert formatting.local_time(moment) == "Feb 1, 2027 8:05 PM"
    assert formatting.local_time(moment, "time") == "8:05 PM"


def test_the_locale_and_currency_come_from_the_config():
    german = {"LOCALE": "de_DE", "CURRENCY": "EUR", "COMPANY_TIMEZONE": "Europe/Berlin"}
    assert formatting.money(Decimal("1250.34"), german) == "1.250,34\xa0€"
    assert formatting.counted(1, "Stück", "Stück", german) == "1 Stück"


def test_pages_and_mail_write_money_alike(app, client, session, redis):
    """A checkout order over a thousand dollars: its confirmation mail and its page both say
    "$1,250.00", never "$1250.00"; the mail's line says its unit in words."""
    buyer = make_user(session)
    product = make_product(session, name="Water Filter", each_price=Decimal("125.00"))
    order = make_paid_order(session, buyer, redis, product=product, quantity=10)
    session.commit()
    body = session.scalar(select(OutboxMessage.body).where(OutboxMessage.subject.like("%confirmed%")))
    assert "10 × Water Filter  $1,250.00" in body and "Total $1,250.00" in body
    assert "Shipping $0.00" in body and "PV 80.00" in body and "1250.00" not in body
    log_in(client, buyer)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "$1,250.00" in page and "Checkout" in page
