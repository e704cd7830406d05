"""One of everything a URL can point at, built through the real services.

The people: an admin; an upline IBO; the owner, a member in that IBO's downline; another IBO
outside the owner's upline, and another member in that IBO's downline. The owner and the other
member each hold the same set of things (address, card, cart line, paid checkout order, a
standing order with items, history, a skip and a declined autoship order, 1-Click on in a
browser with an open 1-Click order, a calendar link, mail, a signed-in session on a phone). Shared
autoship run with its chunk, a purchase order line, a receipt, a planning run, a planned
shipment and a failed RQ job.

``url_for_rule(rule, world, owner=...)`` fills a rule's arguments from the world (the given
person's things), so a test can request any route with somebody's real ids.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from rq.job import Job, JobStatus
from sqlalchemy import select
from werkzeug.routing import Rule

from portal.accounts.login_sessions import Lifetimes, start_login_session
from portal.accounts.models import LoginSession, User
from portal.accounts.password_reset import make_reset_token
from portal.autoship import calendar_tokens, creation, engine, profiles, schedule_changes
from portal.orders import charging
from portal.autoship.models import AutoshipItem, AutoshipProfile, AutoshipRun, AutoshipRunChunk
from portal.autoship.recurrence import Recurrence
from portal.cart.services import add_to_cart
from portal.catalog.models import Product
from portal.checkout.services import check_out
from portal.clock import company_today
from portal.clock import utcnow
from portal.fulfilment.models import (InventoryReceipt, PlanningRun, PurchaseOrderLine, Shipment,
                                      ShipmentPick)
from portal.fulfilment.planning import run_planning
from portal.fulfilment.services import add_expected_arrival, record_receipt
from portal.mail.models import OutboxMessage
from portal.oneclick import services as oneclick_services
from portal.oneclick.press import place_oneclick_order
from portal.oneclick.identifiers import hash_token, new_token
from portal.oneclick.models import ClientIdentifier
from portal.orders.models import Order, OrderLine
from portal.orders.pricing import shipping_rule
from portal.payments.gateway import SandboxGateway
from portal.payments.models import PaymentMethod
from portal.addresses.models import Address
from portal.cart.models import CartLine
from portal.queues import get_queue
from tests.factories import make_address, make_admin, make_card, make_ibo, make_product, make_user

DECLINED_CARD = "4000000000000002"
CARDS = {"Olive": "4242424242424242", "Otto": "5555555555554444"}  # owner's, other's: told apart
PERSONAS = ("anon", "owner", "ibo", "other", "upline", "admin")


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
    login_session: LoginSession   # signed in on another browser than the persona's
    mail: OutboxMessage | None = None


@dataclass
class World:
    admin: User
    upline: User
    owner: User
    ibo: User
    other: User
    product: Product
    second_product: Product
    holdings: dict[int, Holdings]
    run: AutoshipRun
    chunk: AutoshipRunChunk
    purchase_order_line: PurchaseOrderLine
    receipt: InventoryReceipt
    planning_run: PlanningRun
    shipment: Shipment
    job_id: str
    extra: dict = field(default_factory=dict)  # room for what a test adds to its world

    def of(self, person: User) -> Holdings:
        return self.holdings[person.id]

    def persona(self, name: str) -> User | None:
        """The user behind a persona name (None for anonymous)."""
        return None if name == "anon" else getattr(self, name)


def build_world(session, redis) -> World:
    """Build and commit the world."""
    config = current_app.config
    today = company_today()
    admin = make_admin(session, first_name="Ada", last_name="Admin")
    upline = make_ibo(session, root=True, first_name="Uma", last_name="Upline")
    owner = make_user(session, sponsor=upline, first_name="Olive", last_name="Owner")
    ibo = make_ibo(session, root=True, first_name="Ivan", last_name="Outsider")
    other = make_user(session, sponsor=ibo, first_name="Otto", last_name="Other")
    product = make_product(session, name="Vitamin D", on_hand=1000)
    second_product = make_product(session, name="Green Tea", on_hand=1000)
    session.commit()

    first_run = today + timedelta(days=10)
    partial = {person.id: _shop(session, redis, person, product, second_product, first_run, today)
               for person in (owner, other)}
    session.commit()

    # The engine materialises both standing orders on their first date; the declining card
    # makes each a payment-failed order; then the profiles go back to the good card.
    run = engine.run_in_process(session, as_of=first_run, trigger="test",
                                rules=engine.EngineRules.from_config(config))
    failed = {o.user_id: o for o in session.scalars(
        select(Order).where(Order.autoship_profile_id.is_not(None)))}
    charging.charge(current_app._get_current_object(), session,
                    [o.id for o in failed.values()], first_run)
    for person_id, things in partial.items():
        things["profile"].payment_method_id = things["card"].id
    session.commit()

    purchase_order = add_expected_arrival(session, actor=admin, reference="PO-WORLD", supplier="Acme",
                                          expected_on=today + timedelta(days=7), sku=product.sku,
                                          eaches=48, today=today)
    receipt = record_receipt(session, actor=admin, sku=second_product.sku, eaches=12, note="world")
    planning_run = run_planning(session, trigger="test")
    session.commit()
    shipment = session.scalar(select(Shipment).join(ShipmentPick)
                              .where(ShipmentPick.order_id == partial[owner.id]["order"].id).limit(1))
    job = _failed_job()

    holdings = {}
    for person_id, things in partial.items():
        things["failed_order"] = failed[person_id]
        things["mail"] = session.scalar(select(OutboxMessage).where(OutboxMessage.user_id == person_id)
                                        .order_by(OutboxMessage.id).limit(1))
        holdings[person_id] = Holdings(**things)
    world = World(admin=admin, upline=upline, owner=owner, ibo=ibo, other=other, product=product,
                  second_product=second_product, holdings=holdings, run=run,
                  chunk=session.scalar(select(AutoshipRunChunk).where(AutoshipRunChunk.run_id == run.id)),
                  purchase_order_line=purchase_order.lines[0], receipt=receipt,
                  planning_run=planning_run, shipment=shipment, job_id=job.id)
    session.commit()
    return world


def _shop(session, redis, person: User, product, second_product, first_run: date, today: date) -> dict:
    """One shopper's things, up to (not including) the autoship run."""
    config = current_app.config
    address = make_address(session, person, moniker="Home", line1=f"12 {person.first_name} Lane")
    card = make_card(session, person, redis, number=CARDS[person.first_name])
    declining_card = make_card(session, person, redis, number=DECLINED_CARD)
    add_to_cart(session, user=person, product_id=product.id, unit_code="each", quantity=2,
                max_quantity=999)
    order = check_out(session, user=person, address_id=address.id, card_id=card.id,
                      idempotency_key=f"world-checkout-{person.id}", gateway=SandboxGateway(redis),
                      shipping=shipping_rule(config), today=today)
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
    oneclick_services.enable_oneclick(session, user=person, token_hash=hash_token(client_token),
                                      label="Firefox on Linux", address_id=address.id,
                                      card_id=card.id, today=today, now=utcnow())
    press_key = secrets.token_urlsafe(18)
    place_oneclick_order(
        session, token_hash=hash_token(client_token), person_id=person.id, product_id=product.id,
        unit_code="each", quantity=1, idempotency_key=press_key,
        rules=oneclick_services.rules_from(config), now=utcnow(), today=today)
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


# --- Filling a rule's arguments ----------------------------------------------------------------

# Arguments whose meaning depends on the endpoint: (endpoint, argument) -> holdings/world getter.
_BY_ENDPOINT = {
    ("cart.change", "line_id"): lambda w, h: h.cart_line.id,
    ("cart.remove", "line_id"): lambda w, h: h.cart_line.id,
    ("oneclick.cancel_line", "line_id"): lambda w, h: h.oneclick_line.id,
    ("oneclick.cancel_line", "order_id"): lambda w, h: h.oneclick_order.id,
    ("oneclick.cancel_order", "order_id"): lambda w, h: h.oneclick_order.id,
    ("oneclick.order", "order_id"): lambda w, h: h.oneclick_order.id,
    ("orders.pay", "order_id"): lambda w, h: h.failed_order.id,
    ("autoship_admin.retry_payment", "order_id"): lambda w, h: h.failed_order.id,
    ("fulfilment.receive_line", "line_id"): lambda w, h: w.purchase_order_line.id,
    ("accounts.reset_password", "token"): lambda w, h: make_reset_token(
        h.user, secret_key=current_app.config["SECRET_KEY"]),
}

# Everything else by argument name.
_BY_ARGUMENT = {
    "profile_id": lambda w, h: h.profile.id,
    "item_id": lambda w, h: h.item.id,
    "address_id": lambda w, h: h.address.id,
    "card_id": lambda w, h: h.card.id,
    "order_id": lambda w, h: h.order.id,
    "product_id": lambda w, h: w.product.id,
    "client_id": lambda w, h: h.client.id,
    "login_session_id": lambda w, h: h.login_session.id,
    "key": lambda w, h: h.press_key,
    "token": lambda w, h: h.calendar_token,
    "member_number": lambda w, h: h.user.member_number,
    "run_id": lambda w, h: w.run.id,
    "shipment_id": lambda w, h: w.shipment.id,
    # rq-dashboard
    "instance_number": lambda w, h: 0,
    "job_id": lambda w, h: w.job_id,
    "queue_name": lambda w, h: "default",
    "registry_name": lambda w, h: "failed",
    "per_page": lambda w, h: 8,
    "order": lambda w, h: "asc",
    "page": lambda w, h: 1,
    "filename": lambda w, h: "css/main.css",
}


class UnknownArgument(LookupError):
    pass


def rule_arguments(rule: Rule, world: World, owner: User | None = None) -> dict:
    """Values for every argument of ``rule``, naming ``owner``'s things (default: the owner)."""
    holdings = world.of(owner or world.owner)
    values = {}
    for argument in sorted(rule.arguments):
        getter = _BY_ENDPOINT.get((rule.endpoint, argument)) or _BY_ARGUMENT.get(argument)
        if getter is None:
            raise UnknownArgument(
                f"{rule.endpoint} {rule.rule}: tests/security/world.py does not know what "
                f"'<{argument}>' names; add it to _BY_ENDPOINT or _BY_ARGUMENT")
        values[argument] = getter(world, holdings)
    return values


def url_for_rule(rule: Rule, world: World, owner: User | None = None) -> str:
    """The path of ``rule`` itself (not another rule of the same endpoint) with ``owner``'s ids."""
    _domain, path = rule.build(rule_arguments(rule, world, owner))
    return path
