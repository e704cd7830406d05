"""Small factories: each builds one thing with sensible defaults and flushes, never commits."""

from __future__ import annotations

import itertools
from decimal import Decimal

from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.addresses.services import add_address
from portal.catalog.services import create_product
from portal.clock import company_today
from portal.genealogy.services import place_in_tree
from portal.payments.gateway import SandboxGateway
from portal.payments.services import add_card

PASSWORD = "correct horse battery"
_PASSWORD_HASH = hash_password(PASSWORD)
_sequence = itertools.count(1)


def make_user(session, *, role: str = Role.MEMBER, sponsor: User | None = None,
              root: bool = False, **overrides) -> User:
    n = next(_sequence)
    if sponsor is None and not root and role not in (Role.ADMIN, Role.SUPPORT):
        sponsor = make_user(session, role=Role.IBO, root=True)
    values = dict(email=f"person{n}@example.test", first_name=f"Pat{n}", last_name="Example",
                  member_number=f"{20_000_000 + n}", password_hash=_PASSWORD_HASH, role=role)
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    if role not in (Role.ADMIN, Role.SUPPORT):  # staff are not in the sponsor tree
        place_in_tree(session, user, sponsor)
    return user


def make_ibo(session, **overrides) -> User:
    return make_user(session, role=Role.IBO, **overrides)


def make_admin(session, **overrides) -> User:
    return make_user(session, role=Role.ADMIN, **overrides)


def make_support(session, **overrides) -> User:
    return make_user(session, role=Role.SUPPORT, **overrides)


def make_address(session, user: User, **overrides):
    values = dict(moniker=f"Home {next(_sequence)}", full_name=user.full_name, line1="1 Main Street",
                  city="Springfield", region="IL", postal_code="62704", country="US")
    values.update(overrides)
    return add_address(session, user=user, **values)


def make_card(session, user: User, redis, number: str = "4242424242424242", **overrides):
    values = dict(exp_month=12, exp_year=company_today().year + 2, cvc="123",
                  cardholder=user.full_name, today=company_today())
    values.update(overrides)
    return add_card(session, user=user, gateway=SandboxGateway(redis), number=number, **values)


def make_product(session, **overrides):
    n = next(_sequence)
    values = dict(sku=f"SKU-{n}", name=f"Product {n}", description="A product.", category="Test",
                  each_price=Decimal("10.00"), each_pv=Decimal("8.00"), each_bv=Decimal("6.00"),
                  case_size=12, case_price=Decimal("110.00"), lot_size=144,
                  lot_price=Decimal("1200.00"), on_hand=1000)
    values.update(overrides)
    return create_product(session, **values)


def make_paid_order(session, user: User, redis, product=None, quantity: int = 1):
    """A checkout order of ``quantity`` eaches of ``product`` (a new one by default), charged
    to a new card and shipped to a new address of ``user``; its confirmation mail in the outbox."""
    from flask import current_app

    from portal.cart.services import add_to_cart
    from portal.checkout.services import check_out
    from portal.orders.pricing import shipping_rule

    product = product or make_product(session)
    address = make_address(session, user)
    card = make_card(session, user, redis)
    add_to_cart(session, user=user, product_id=product.id, unit_code="each", quantity=quantity,
                max_quantity=999)
    return check_out(session, user=user, address_id=address.id, card_id=card.id,
                     idempotency_key=f"factory-order-{next(_sequence)}",
                     gateway=SandboxGateway(redis), shipping=shipping_rule(current_app.config),
                     today=company_today())
