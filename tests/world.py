"""The demo-like world the end-to-end and security suites stand on, built through the real services.

The people, by the part they play:
- ``admin``: Ada Admin; ``support``: Sam Support, of the support role.
- ``upline``: Uma Upline, an IBO at the top of her tree. She sponsored ``owner`` (Olive Owner, a
  member) and ``frontline_ibo`` (Ben Baker, an IBO), who sponsored ``second_level`` (Cleo Chen, a
  member): Uma's team has two levels.
- ``ibo``: Ivan Outsider, an IBO at the top of another tree, who sponsored ``other`` (Otto Other,
  a member): strangers to Olive.

Olive and Otto each hold the same set of things (``Holdings``: an address, a card and a card that
declines, a cart line, a paid checkout order, a standing order with two items, history and a
skip, a standing order's declined order, a one-time line in its next shipment, 1-Click on in a
browser with an open 1-Click order, a calendar link, mail, a signed-in session on a phone). Cleo's paid order waits for a product out
of stock, expected from a supplier. Shared: the autoship run with its chunk, a planning run with
its shipments, a receipt and a failed RQ job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from rq.job import Job, JobStatus
from sqlalchemy import select

from portal.accounts.login_sessions import Lifetimes, start_login_session
from portal.accounts.models import LoginSession, User
from portal.accounts.password_reset import make_reset_token
from portal.addresses.models import Address
from portal.autoship import calendar_tokens, creation, engine, one_time, profiles, schedule_changes
from portal.autoship.models import (AutoshipItem, AutoshipOneTimeLine, AutoshipProfile, AutoshipRun,
                                    AutoshipRunChunk)
from portal.autoship.recurrence import Recurrence
from portal.cart.models import CartLine
from portal.cart.services import add_to_cart
from portal.catalog.models import Product
from portal.checkout.services import check_out
from portal.clock import company_today, utcnow
from portal.fulfilment.models import (InventoryReceipt, PlanningRun, PurchaseOrderLine, Shipment,
                                      ShipmentPick)
from portal.fulfilment.planning import run_planning
from portal.fulfilment.receiving import add_expected_arrival, record_receipt
from portal.mail.models import OutboxMessage
from portal.oneclick.rules import rules_from as oneclick_rules_from
from portal.oneclick.settings import enable_oneclick
from portal.oneclick.press import place_oneclick_order
from portal.oneclick.identifiers import hash_token, new_token
from portal.oneclick.models import ClientIdentifier
from portal.orders import charging
from portal.orders.models import Order, OrderLine, Refund
from portal.orders.pricing import shipping_rule
from portal.payments.gateway import SandboxGateway
from portal.payments.models import PaymentMethod
from portal.queues import get_queue
from portal.retention.models import Replacement
from tests.factories import (make_address, make_admin, make_card, make_ibo, make_product,
                             make_support, make_user)

DECLINED_CARD = "4000000000000002"
CARDS = {"Olive": "4242424242424242", "Otto": "5555555555554444"}  # owner's, other's: told apart


@dataclass
class Holdings:
    """Everything one shopper owns that a URL can name."""

    user: User
    address: Address
    card: PaymentMethod
    declining_card: PaymentMethod
    cart_line: CartLine
    order: Order                  # a paid checkout order
    profile: AutoshipProfile      # an active standing order with two items, history and a skip
    item: AutoshipItem
    failed_order: Order           # an autoship order whose charge was declined
    oneclick_order: Order         # an open 1-Click order (combining window still open)
    oneclick_line: OrderLine
    press_key: str                # the idempotency key of the press that placed it
    client: ClientIdentifier      # the browser where 1-Click is on
    client_token: str             # that browser's cookie value
    calendar_token: str
    login_session: LoginSession   # signed in on another browser than the one a test drives
    mail: OutboxMessage | None = None
    refund: Refund | None = None  # a refund of the order's shipping fee the gateway has not answered
    one_time_line: AutoshipOneTimeLine | None = None  # "this time only" in the profile's next shipment
    one_time_key: str = ""        # the idempotency key of the press that added it


@dataclass
class World:
    admin: User
    support: User
    upline: User
    owner: User
    frontline_ibo: User
    second_level: User
    ibo: User
    other: User
    product: Product              # in stock, in everybody's orders
    second_product: Product       # in stock, in the carts; sold by the case too
    awaited_product: Product      # out of stock, on a purchase order
    holdings: dict[int, Holdings]
    waiting_order: Order          # Cleo's paid order for the awaited product
    run: AutoshipRun
    chunk: AutoshipRunChunk
    purchase_order_line: PurchaseOrderLine
    receipt: InventoryReceipt
    planning_run: PlanningRun
    shipment: Shipment            # one of the owner's checkout order's shipments
    job_id: str
    extra: dict = field(default_factory=dict)  # room for what a test adds to its world
    replacement: Replacement | None = None  # the admin's finished replacement of Zinc by Green Tea

    def of(self, person: User) -> Holdings:
        return self.holdings[person.id]

    def persona(self, name: str) -> User | None:
        """The user who plays ``name`` ("owner", "upline", ...); None for "anon"."""
        return None if name == "anon" else getattr(self, name)


def build_world(session, redis) -> World:
    """Build and commit the world."""
    config = current_app.config
    today = company_today()
    admin = make_admin(session, first_name="Ada", last_name="Admin")
    support = make_support(session, first_name="Sam", last_name="Support")
    upline = make_ibo(session, root=True, first_name="Uma", last_name="Upline")
    owner = make_user(session, sponsor=upline, first_name="Olive", last_name="Owner")
    frontline_ibo = make_ibo(session, sponsor=upline, first_name="Ben", last_name="Baker")
    second_level = make_user(session, sponsor=frontline_ibo, first_name="Cleo", last_name="Chen")
    ibo = make_ibo(session, root=True, first_name="Ivan", last_name="Outsider")
    other = make_user(session, sponsor=ibo, first_name="Otto", last_name="Other")
    product = make_product(session, name="Vitamin D", category="Nutrition", on_hand=1000)
    second_product = make_product(session, name="Green Tea", category="Beverages",
                                  each_price=Decimal("7.90"), case_size=12,
                                  case_price=Decimal("90.00"), on_hand=1000)
    awaited_product = make_product(session, name="Zinc", category="Nutrition", on_hand=0)
    session.commit()

    first_run = today + timedelta(days=10)
    partial = {person.id: _shop(session, redis, person, product, second_product, first_run, today)
               for person in (owner, other)}
    waiting_order = _order_once(session, redis, second_level, awaited_product, today)
    session.commit()

    # The engine materialises both standing orders on their first date; the declining card
    # makes each a payment-failed order; then the profiles go back to the good card.
    run = engine.run_in_process(session, as_of=first_run, trigger="test",
                                rules=engine.EngineRules.from_config(config))
    failed = {o.user_id: o for o in session.scalars(
        select(Order).where(Order.autoship_profile_id.is_not(None)))}
    charging.charge(current_app._get_current_object(), session,
                    [o.id for o in failed.values()], first_run)
    for things in partial.values():
        things["profile"].payment_method_id = things["card"].id
    session.commit()
    for things in partial.values():
        things["one_time_key"] = secrets.token_urlsafe(18)
        things["one_time_line"] = one_time.add_to_next_shipment(
            session, user=things["user"], product_id=second_product.id, unit_code="each", quantity=1,
            idempotency_key=things["one_time_key"], today=today,
            rules=profiles.AutoshipRules.from_config(config), shipping=shipping_rule(config),
            profile_id=things["profile"].id).line
    session.commit()

    purchase_order = add_expected_arrival(session, actor=admin, reference="PO-WORLD",
                                          supplier="Acme", expected_on=today + timedelta(days=7),
                                          sku=awaited_product.sku, eaches=48, today=today)
    receipt = record_receipt(session, actor=admin, sku=second_product.sku, eaches=12, note="world")
    planning_run = run_planning(session, trigger="test")
    session.commit()
    shipment = session.scalar(select(Shipment).join(ShipmentPick)
                              .where(ShipmentPick.order_id == partial[owner.id]["order"].id).limit(1))
    job = _failed_job()

    holdings = {}
    for person_id, things in partial.items():
        things["failed_order"] = failed[person_id]
        things["refund"] = _pending_refund(session, things["order"])
        things["mail"] = session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == person_id)
                                        .order_by(OutboxMessage.id).limit(1))
        holdings[person_id] = Holdings(**things)
    world = World(admin=admin, support=support, upline=upline, owner=owner, frontline_ibo=frontline_ibo,
                  second_level=second_level, ibo=ibo, other=other, product=product,
                  second_product=second_product, awaited_product=awaited_product,
                  holdings=holdings, waiting_order=waiting_order, run=run,
                  chunk=session.scalar(select(AutoshipRunChunk).where(AutoshipRunChunk.run_id == run.id)),
                  purchase_order_line=purchase_order.lines[0], receipt=receipt,
                  planning_run=planning_run, shipment=shipment, job_id=job.id)
    # A finished replacement (recorded as its job leaves it: nobody held Zinc, nothing changed).
    world.replacement = Replacement(key="world-replacement-key-0001", product_id=awaited_product.id,
                                    replacement_product_id=second_product.id, unit_code="each",
                                    status="done", created_by=admin.id, finished_at=utcnow())
    session.add(world.replacement)
    session.commit()
    return world


def _pending_refund(session, order: Order) -> Refund:
    """A refund of the order's shipping fee written before the gateway was called, whose answer
    never came: it names no line, so what ships is unchanged."""
    refund = Refund(order_id=order.id, amount=order.shipping_fee, shipping_amount=order.shipping_fee,
                    pv=0, bv=0, reason="Shipping fee waived", idempotency_key=f"world-refund-{order.id}",
                    status="pending")
    session.add(refund)
    session.flush()
    return refund


def reset_token(person: User) -> str:
    """The token of the password-reset link mailed to ``person``."""
    return make_reset_token(person, secret_key=current_app.config["SECRET_KEY"])


def _order_once(session, redis, person: User, product, today: date) -> Order:
    """A paid checkout order to the person's home, of two of ``product``."""
    address = make_address(session, person, moniker="Home", line1=f"7 {person.first_name} Road")
    return _check_out(session, redis, person, address, make_card(session, person, redis), product,
                      today)


def _check_out(session, redis, person: User, address, card, product, today: date) -> Order:
    add_to_cart(session, user=person, product_id=product.id, unit_code="each", quantity=2,
                max_quantity=999)
    return check_out(session, user=person, address_id=address.id, card_id=card.id,
                     idempotency_key=f"world-checkout-{person.id}", gateway=SandboxGateway(redis),
                     shipping=shipping_rule(current_app.config), today=today)


def _shop(session, redis, person: User, product, second_product, first_run: date, today: date) -> dict:
    """One shopper's things, up to (not including) the autoship run."""
    config = current_app.config
    address = make_address(session, person, moniker="Home", line1=f"12 {person.first_name} Lane")
    card = make_card(session, person, redis, number=CARDS[person.first_name])
    declining_card = make_card(session, person, redis, number=DECLINED_CARD)
    order = _check_out(session, redis, person, address, card, product, today)
    cart_line = add_to_cart(session, user=person, product_id=second_product.id, unit_code="each",
                            quantity=1, max_quantity=999)
    rules = profiles.AutoshipRules.from_config(config)
    profile = creation.create_profile(
        session, user=person, name="Monthly essentials", rule=Recurrence.every(1, "months"),
        regularity="calendar", first_date=first_run, address_id=address.id, card_id=declining_card.id,
        items=[(product.id, "each", 6), (second_product.id, "each", 2)], today=today, rules=rules)
    second_run = schedule_changes.preview(Recurrence.every(1, "months"), "calendar", first_run, 2)[1]
    schedule_changes.skip_date(session, user=person, profile=profile, day=second_run, today=today,
                               rules=rules)
    calendar_token = calendar_tokens.issue_calendar_token(session, user=person)
    login_session, _identifier = start_login_session(
        session, user=person, label="Safari on iOS", remember=True, now=utcnow(),
        lifetimes=Lifetimes.from_config(config))

    client_token = new_token()
    enable_oneclick(session, user=person, token_hash=hash_token(client_token),
                    label="Firefox on Linux", address_id=address.id, card_id=card.id,
                    today=today, now=utcnow())
    press_key = secrets.token_urlsafe(18)
    place_oneclick_order(
        session, token_hash=hash_token(client_token), person_id=person.id, product_id=product.id,
        unit_code="each", quantity=1, idempotency_key=press_key,
        rules=oneclick_rules_from(config), now=utcnow(), today=today)
    oneclick_order = session.scalar(select(Order).where(Order.user_id == person.id,
                                                        Order.source == "oneclick"))
    return dict(user=person, address=address, card=card, declining_card=declining_card,
                cart_line=cart_line, order=order, profile=profile, item=profile.items[0],
                oneclick_order=oneclick_order, oneclick_line=oneclick_order.lines[0],
                press_key=press_key,
                client=session.scalar(select(ClientIdentifier)
                                      .where(ClientIdentifier.token_hash == hash_token(client_token))),
                client_token=client_token, calendar_token=calendar_token,
                login_session=login_session)


def _failed_job() -> Job:
    """A job in the default queue's failed registry, as the dashboard's job pages expect."""
    queue = get_queue("default")
    job = queue.enqueue("jobs.fulfilment.plan", job_id=f"world-{secrets.token_hex(4)}")
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    queue.failed_job_registry.add(job, ttl=-1)
    return job
