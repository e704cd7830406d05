"""A small but complete portal for the page tour: every main page has something to show.

Uma (IBO) sponsors Dana (member) and Ben (IBO), who sponsors Cleo. Dana has a paid checkout
order, something in her cart, a standing order that the day's run turned into a paid order,
1-Click on in one browser with an open 1-Click order, addresses and cards. Cleo's standing
order was declined in the run. Fulfilment has a plan, a planning run and an expected arrival;
the outbox has the confirmation mails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import select

from portal.accounts.password_reset import make_reset_token
from portal.autoship import engine
from portal.orders import charging
from portal.orders.billing import uncharged_autoship_orders
from portal.cart.services import add_to_cart
from portal.checkout.services import check_out
from portal.clock import company_today
from portal.fulfilment.models import Shipment
from portal.fulfilment.planning import run_planning
from portal.fulfilment.services import add_expected_arrival
from portal.oneclick.identifiers import hash_token, new_token
from portal.oneclick.press import place_oneclick_order
from portal.oneclick.services import enable_oneclick, rules_from
from portal.orders.pricing import shipping_rule
from portal.payments.services import gateway_for
from tests.downline.conftest import give_autoship
from tests.e2e.conftest import make_shopper
from tests.factories import make_address, make_admin, make_card, make_ibo, make_product, make_user


@dataclass(frozen=True)
class World:
    emails: dict[str, str]  # who (member, ibo, admin) -> login
    ben_number: str
    product_id: int
    order_id: int
    oneclick_order_id: int
    oneclick_key: str
    oneclick_token: str
    profile_id: int
    address_id: int
    run_id: int
    shipment_id: int
    reset_token: str  # Dana's password-reset link


def build_world(session, redis) -> World:
    today = company_today()
    now = datetime.now(timezone.utc)
    uma = make_shopper(session, redis, role="ibo", root=True, first_name="Uma", last_name="Upline")
    dana = make_user(session, sponsor=uma, first_name="Dana", last_name="Diaz")
    home = make_address(session, dana, moniker="Home", line1="12 Elm Street", postal_code="62704")
    card = make_card(session, dana, redis)
    ben = make_ibo(session, sponsor=uma, first_name="Ben", last_name="Baker")
    cleo = make_user(session, sponsor=ben, first_name="Cleo", last_name="Chen")
    admin = make_admin(session, first_name="Ada", last_name="Admin")
    tea = make_product(session, name="Green Tea", category="Beverages", each_price=Decimal("7.90"),
                       case_size=12, case_price=Decimal("90.00"), on_hand=40)
    vitamin = make_product(session, name="Vitamin D", category="Nutrition", each_price=Decimal("12.50"),
                           on_hand=0)
    office = make_address(session, dana, moniker="Office", line1="500 Commerce Avenue")
    add_expected_arrival(session, actor=admin, reference="PO-1001", supplier="Vita Supply",
                         expected_on=today + timedelta(days=9), sku=vitamin.sku, eaches=200,
                         today=today)

    # A checkout order, then the cart filled again.
    add_to_cart(session, user=dana, product_id=tea.id, unit_code="case", quantity=1, max_quantity=999)
    add_to_cart(session, user=dana, product_id=vitamin.id, unit_code="each", quantity=2, max_quantity=999)
    order = check_out(session, user=dana, address_id=home.id,
                      card_id=card.id, idempotency_key="tour-checkout",
                      gateway=gateway_for(), shipping=shipping_rule(current_app.config), today=today)
    add_to_cart(session, user=dana, product_id=tea.id, unit_code="each", quantity=3, max_quantity=999)

    # Standing orders: Dana's and Cleo's are due today (Cleo's card is declined), Ben's is paused.
    profile = give_autoship(session, redis, dana, tea)
    declined = give_autoship(session, redis, cleo, tea, card={"number": "4000000000000002"})
    give_autoship(session, redis, ben, tea, status="paused")
    profile.next_run_date = declined.next_run_date = today
    session.commit()
    run = engine.run_in_process(session, as_of=today, trigger="test",
                                rules=engine.EngineRules.from_config(current_app.config))
    order_ids = uncharged_autoship_orders(session, datetime.now(timezone.utc), limit=100)
    charged = charging.charge(current_app._get_current_object(), session, order_ids, today)
    assert (run.created, len(charged.paid), len(charged.declined)) == (2, 1, 1), (run, charged)

    # 1-Click on in one browser, with an open order.
    token = new_token()
    enable_oneclick(session, user=dana, token_hash=hash_token(token), label="Chromium on Linux",
                    address_id=home.id, card_id=card.id, today=today, now=now)
    key = "tour-oneclick-key-0001"
    confirmation, _ = place_oneclick_order(
        session, token_hash=hash_token(token), person_id=dana.id, product_id=tea.id,
        unit_code="each", quantity=1, idempotency_key=key, rules=rules_from(current_app.config),
        now=now, today=today)

    run_planning(session, trigger="test")
    shipment = session.scalars(select(Shipment).order_by(Shipment.id)).first()
    session.commit()
    return World(emails={"member": dana.email, "ibo": uma.email, "admin": admin.email},
                 ben_number=ben.member_number, product_id=tea.id,
                 order_id=order.id, oneclick_order_id=confirmation.order_id, oneclick_key=key,
                 oneclick_token=token, profile_id=profile.id, address_id=office.id,
                 run_id=run.id, shipment_id=shipment.id,
                 reset_token=make_reset_token(dana, secret_key=current_app.config["SECRET_KEY"]))
