"""Read side of 1-Click: who may order from a browser and the panel an item page shows for
it, a person's browsers, open orders."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, Row, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.errors import NotFound
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.rules import SHOPPER_ROLES
from portal.orders.models import Order, OrderSource
from portal.orders.rules import ShippingRule, line_amount, order_total
from portal.orders.states import OrderStatus
from portal.payments.models import PaymentMethod


@dataclass(frozen=True)
class Buyer:
    """What the item page shows about a person who can order from this browser: enough to
    verify (who, where to in part, which card), never enough to use (no street, no card
    number)."""

    person_id: int
    name: str            # first name and initial
    moniker: str         # "Home"
    masked_address: str  # "...Springfield 627**"
    card_label: str      # "Visa ending 4242"
    keyboard_shortcut: bool
    voice_action: bool
    problem: str = ""    # why an order would be refused, or "" when it can be placed


def buyers_on_client(session: Session, token_hash: str | None, today: date) -> list[Buyer]:
    """The people with 1-Click on for the browser whose token hashes to ``token_hash``, the
    most recently used first."""
    if not token_hash:
        return []
    rows = session.execute(
        select(OneClickSetting, User, Address, PaymentMethod)
        .join(ClientIdentifier, ClientIdentifier.id == OneClickSetting.client_id)
        .join(User, User.id == OneClickSetting.user_id)
        .join(Address, Address.id == OneClickSetting.address_id)
        .join(PaymentMethod, PaymentMethod.id == OneClickSetting.payment_method_id)
        .where(ClientIdentifier.token_hash == token_hash, ClientIdentifier.revoked_at.is_(None),
               OneClickSetting.disabled_at.is_(None), User.active.is_(True))
        .order_by(func.coalesce(OneClickSetting.last_used_at, OneClickSetting.enabled_at).desc(),
                  OneClickSetting.id))
    return [Buyer(person_id=user.id, name=user.short_name, moniker=address.moniker,
                  masked_address=address.masked, card_label=card.label,
                  keyboard_shortcut=setting.keyboard_shortcut, voice_action=setting.voice_action,
                  problem=stored_details_problem(address, card, user, today))
            for setting, user, address, card in rows]


@dataclass(frozen=True)
class Cost:
    """What a 1-Click order of one item costs, shipping included, before anything is pressed."""

    price: Decimal     # the item: unit price times quantity
    shipping: Decimal  # the fee the rule book charges on that subtotal
    total: Decimal     # what the card is charged
    free_from: Decimal  # the subtotal from which shipping is free


@dataclass(frozen=True)
class Panel:
    """What an item page needs to show the 1-Click button: the people who can order from this
    browser, who is preselected, whether to offer turning 1-Click on, and the shipping rule
    that prices the order the button places."""

    visible: bool
    buyers: list[Buyer] = field(default_factory=list)
    selected_id: int | None = None
    offer_enable: bool = False
    shipping: ShippingRule | None = None

    def cost(self, unit_price: Decimal, quantity: int = 1) -> Cost:
        """The order ``quantity`` units at ``unit_price`` make on their own: the price, the
        rule book's shipping fee for it and the total."""
        price = line_amount(Decimal(unit_price), quantity)
        fee = self.shipping.fee(price)
        return Cost(price=price, shipping=fee, total=order_total(price, fee),
                    free_from=self.shipping.free_from)

    @property
    def selected(self) -> Buyer | None:
        return next((b for b in self.buyers if b.person_id == self.selected_id), None)

    @property
    def any_shortcut(self) -> bool:
        return any(b.keyboard_shortcut for b in self.buyers)

    @property
    def any_voice(self) -> bool:
        return any(b.voice_action for b in self.buyers)

    @staticmethod
    def new_key() -> str:
        """A fresh idempotency key for each rendered button."""
        return secrets.token_urlsafe(18)


def oneclick_panel(session: Session, *, viewer: User | None, token_hash: str | None,
                   today: date, shipping: ShippingRule) -> Panel:
    """The 1-Click panel of an item page seen by ``viewer`` (None when nobody is logged in) on
    the browser whose token hashes to ``token_hash``. Hidden from people who cannot shop; the
    viewer's own 1-Click is preselected, else the first person whose order would go through;
    a logged-in viewer without 1-Click here is offered to turn it on. ``shipping`` prices what
    the button will cost (``Panel.cost``), so the page never shows less than is charged."""
    if viewer is not None and viewer.role not in SHOPPER_ROLES:
        return Panel(visible=False)
    buyers = buyers_on_client(session, token_hash, today)
    mine = next((b for b in buyers if viewer is not None and b.person_id == viewer.id), None)
    selected = mine or next((b for b in buyers if not b.problem), buyers[0] if buyers else None)
    return Panel(visible=True, buyers=buyers, selected_id=selected.person_id if selected else None,
                 offer_enable=viewer is not None and mine is None, shipping=shipping)


def stored_details_problem(address: Address, card: PaymentMethod, user: User, today: date) -> str:
    if address.archived_at is not None or address.user_id != user.id:
        return (f'The 1-Click address "{address.moniker}" was removed from the address book. '
                "Choose another one in the 1-Click settings.")
    if card.archived_at is not None or card.user_id != user.id:
        return (f"The 1-Click card {card.label} was removed from the wallet. "
                "Choose another one in the 1-Click settings.")
    if card.expired_on(today):
        return (f"The 1-Click card {card.label} expired {card.expiry}. "
                "Choose another one in the 1-Click settings.")
    return ""


def client_by_hash(session: Session, token_hash: str | None) -> ClientIdentifier | None:
    if not token_hash:
        return None
    return session.scalar(select(ClientIdentifier).where(ClientIdentifier.token_hash == token_hash))


def setting_here(session: Session, user: User, token_hash: str | None) -> OneClickSetting | None:
    """``user``'s 1-Click setting on this browser, if it is on."""
    if not token_hash:
        return None
    return session.scalar(
        select(OneClickSetting).join(ClientIdentifier)
        .where(ClientIdentifier.token_hash == token_hash, ClientIdentifier.revoked_at.is_(None),
               OneClickSetting.user_id == user.id, OneClickSetting.disabled_at.is_(None)))


def devices_of(session: Session, user: User) -> list[OneClickSetting]:
    """Every browser on which ``user`` has 1-Click on, the most recently used first."""
    return list(session.scalars(
        select(OneClickSetting).join(ClientIdentifier)
        .where(OneClickSetting.user_id == user.id, OneClickSetting.disabled_at.is_(None),
               ClientIdentifier.revoked_at.is_(None))
        .order_by(func.coalesce(OneClickSetting.last_used_at, OneClickSetting.enabled_at).desc(),
                  OneClickSetting.id)))


def visible_oneclick_order(session: Session, order_id: int, *, user: User | None,
                           token_hash: str | None) -> Order:
    """A single-action order for its owner: logged in, or on a browser where the owner has
    1-Click on (ordering needs no login, so neither does looking at or cancelling the result)."""
    order = session.get(Order, order_id)
    if order is None or order.source != OrderSource.ONECLICK:
        raise NotFound("We could not find that 1-Click order.")
    if user is not None and user.is_authenticated and order.user_id == user.id:
        return order
    if token_hash and session.scalar(
            select(OneClickSetting.id).join(ClientIdentifier)
            .where(ClientIdentifier.token_hash == token_hash, ClientIdentifier.revoked_at.is_(None),
                   OneClickSetting.user_id == order.user_id,
                   OneClickSetting.disabled_at.is_(None))) is not None:
        return order
    raise NotFound("We could not find that 1-Click order.")


def latest_order(session: Session, user: User) -> Order | None:
    """The person's latest order: its address and card are the natural 1-Click defaults."""
    return session.scalar(select(Order).where(Order.user_id == user.id)
                          .order_by(Order.placed_at.desc(), Order.id.desc()).limit(1))


def visible_press(session: Session, idempotency_key: str, *, user: User | None,
                  token_hash: str | None) -> OneClickRequest:
    """One press of a 1-Click button, for the browser that pressed it or its logged-in owner."""
    press = request_by_key(session, idempotency_key[:80])
    if press is not None:
        if user is not None and user.is_authenticated and press.user_id == user.id:
            return press
        client = client_by_hash(session, token_hash)
        if client is not None and client.revoked_at is None and press.client_id == client.id:
            return press
    raise NotFound("We could not find that 1-Click order on this browser.")


def request_by_key(session: Session, idempotency_key: str) -> OneClickRequest | None:
    return session.scalar(_REQUEST_BY_KEY, {"key": idempotency_key})


_REQUEST_BY_KEY = select(OneClickRequest).where(OneClickRequest.idempotency_key == bindparam("key"))


def press_by_key(connection: Connection, idempotency_key: str) -> Row | None:
    """What the first request with this key asked for, and the answer it got (a plain row:
    this is read on every press)."""
    return connection.execute(_PRESS_BY_KEY, {"key": idempotency_key}).first()


_PRESS_BY_KEY = (select(*(OneClickRequest.__table__.c[name] for name in (
                     "client_id", "user_id", "product_id", "unit_code", "quantity", "outcome")))
                 .where(OneClickRequest.__table__.c.idempotency_key == bindparam("key")))


def due_for_finalisation(session: Session, now: datetime, limit: int = 1000) -> list[int]:
    """Single-action orders whose combining window has closed, and those a crashed
    finalisation left waiting for their charge."""
    return list(session.scalars(
        select(Order.id).where(
            Order.source == OrderSource.ONECLICK,
            or_(and_(Order.status == OrderStatus.OPEN, Order.combine_until <= now),
                Order.status == OrderStatus.PENDING_PAYMENT))
        .order_by(Order.id).limit(limit)))
