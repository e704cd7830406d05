from datetime import date, timedelta
from decimal import Decimal

import pytest

from portal.autoship.recurrence import Recurrence
from portal.autoship.creation import create_profile
from portal.autoship.profiles import AutoshipRules
from tests.conftest import log_in
from tests.factories import make_address, make_card, make_product, make_user

TODAY = date(2026, 11, 22)
RULES = AutoshipRules(cutoff_days=2, max_quantity=999, min_pv=Decimal("50"))


@pytest.fixture
def member(session, redis):
    person = make_user(session)
    person.home = make_address(session, person, moniker="Home")
    person.card = make_card(session, person, redis)
    return person


@pytest.fixture
def shopper(client, session, redis):
    """A member with an address and a card, logged in through ``client``."""
    person = make_user(session)
    make_address(session, person, moniker="Home")
    make_card(session, person, redis)
    log_in(client, person)
    return person


@pytest.fixture
def product(session):
    return make_product(session, name="Vitamin D", each_price=Decimal("10.00"),
                        each_pv=Decimal("8.00"), case_size=12, case_price=Decimal("110.00"))


def new_profile(session, person, product, *, rule=None, first=None, regularity="calendar",
                items=None, **kwargs):
    return create_profile(session, user=person, name="Monthly essentials",
                          rule=rule or Recurrence.every(1, "months"), regularity=regularity,
                          first_date=first or TODAY + timedelta(days=10),
                          address_id=person.home.id, card_id=person.card.id,
                          items=[(product.id, "each", 2)] if items is None else items, today=TODAY, rules=RULES, **kwargs)
