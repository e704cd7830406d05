"""Standing-order orders paid, cancelled and refunded as the portal does it: built like the
engine's, charged through ``charging.charge`` (the sandbox gateway), changed through
``change_status`` and announced with ``order_refunded``; the points follow by the signals."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from flask import current_app

from portal.autoship.creation import create_profile
from portal.autoship.recurrence import Recurrence
from portal.clock import frozen_at
from portal.orders import charging
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import PricedLine, ShippingRule
from portal.orders.services import build_order, change_status
from portal.orders.signals import order_refunded
from portal.orders.states import OrderStatus
from tests.autoship.conftest import RULES
from tests.factories import make_address, make_card, make_product, make_user

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
UTC = timezone.utc
_due = itertools.count()


@pytest.fixture
def holder(session, redis):
    """A member with a card, an address and an active monthly standing order."""
    return make_holder(session, redis)


def make_holder(session, redis, **overrides):
    person = make_user(session, **overrides)
    person.home = make_address(session, person, moniker="Home")
    person.card = make_card(session, person, redis)
    product = make_product(session)
    with frozen_at(datetime(2026, 1, 1, 12, tzinfo=UTC)):
        person.profile = create_profile(
            session, user=person, name="Monthly", rule=Recurrence.every(1, "months"), regularity="calendar",
            first_date=date(2026, 1, 10), address_id=person.home.id, card_id=person.card.id,
            items=[(product.id, "each", 1)], today=date(2026, 1, 1), rules=RULES)
    person.product = product
    session.commit()
    return person


def line(product, *, price: str, pv: str, quantity: int = 1) -> PricedLine:
    return PricedLine(product_id=product.id, sku=product.sku, name=product.name, unit_code="each",
                      eaches_per_unit=1, quantity=quantity, unit_price=Decimal(price),
                      unit_pv=Decimal(pv), unit_bv=Decimal(pv))


def standing_order(session, person, *, price: str = "100.00", pv: str = "60", lines=None) -> Order:
    """A pending standing-order order of ``person`` (one line unless ``lines``)."""
    order = build_order(user=person, source=OrderSource.AUTOSHIP,
                        lines=lines or [line(person.product, price=price, pv=pv)],
                        address=person.home, card=person.card, shipping=SHIPPING)
    order.autoship_profile_id = person.profile.id
    order.autoship_due_date = date(2000, 1, 1) + timedelta(days=next(_due))
    session.add(order)
    session.flush()
    return order


def pay(session, order: Order, at: datetime) -> Order:
    """Charge ``order`` at ``at`` as a run's charge job does (committed)."""
    with frozen_at(at):
        charging.charge(current_app._get_current_object(), session, [order.id], at.date())
        session.commit()
    session.refresh(order)
    return order


def paid_standing_order(session, person, at: datetime, **kwargs) -> Order:
    return pay(session, standing_order(session, person, **kwargs), at)


def cancel(session, order: Order, at: datetime) -> None:
    with frozen_at(at):
        change_status(session, order, OrderStatus.CANCELLED, "test")
        session.commit()


def refund(session, order: Order, amount: str, at: datetime) -> None:
    with frozen_at(at):
        order_refunded.send(order, session=session, refund_id=1, amount=Decimal(amount),
                            pv=Decimal(0), bv=Decimal(0), at=at)
        session.commit()
