"""1-Click: turning it on and off per browser, the answer a press gets, changing a
single-action order while its combining window is open, and finalising it when it closes.

Placing an order (one press of the button, exactly once) is ``portal.oneclick.press``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.addresses.services import owned_address
from portal.errors import DomainError, Forbidden, NotFound
from portal.fulfilment.coordination import request_planning
from portal.mail.services import queue_mail
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.queries import client_by_hash
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import ShippingRule, shipping_rule
from portal.orders.services import change_status, charge_order, order_for, remove_order_line
from portal.orders.states import STATUS_LABELS, OrderStatus
from portal.payments.gateway import PaymentDeclined, PaymentGateway
from portal.payments.models import PaymentMethod
from portal.payments.services import usable_card

SHOPPER_ROLES = (Role.MEMBER, Role.IBO)
SHIPS_FROM_STOCK, SHIPS_ON_ARRIVAL, SHIPS_AFTER_LEAD_TIME = "stock", "arrival", "lead time"


class OneClickError(DomainError):
    pass


class ClientNotRecognised(Forbidden):
    def __init__(self):
        super().__init__("This browser is not set up for 1-Click (or 1-Click was turned off "
                         "here). Log in and turn on 1-Click to order with one click.")


class ClientRevoked(OneClickError):
    """The browser's identifier was revoked; the caller gives the browser a new one."""

    status = 409

    def __init__(self):
        super().__init__("1-Click was turned off on this browser. Reload the page and try again.")


class OneClickOff(Forbidden):
    def __init__(self):
        super().__init__("That person has not turned on 1-Click on this browser. Choose who is "
                         "ordering from the list, or log in and turn on 1-Click.")


class StoredDetailsUnusable(OneClickError):
    pass


class IdempotencyKeyReused(OneClickError):
    pass


class TooManyOrders(OneClickError):
    status = 429


class WindowClosed(OneClickError):
    pass


@dataclass(frozen=True)
class OneClickRules:
    combine_window: timedelta
    max_per_hour: int
    backorder_days: int
    max_quantity: int
    shipping: ShippingRule


def rules_from(config) -> OneClickRules:
    return OneClickRules(combine_window=timedelta(minutes=int(config["ONECLICK_COMBINE_MINUTES"])),
                         max_per_hour=int(config["ONECLICK_MAX_PER_HOUR"]),
                         backorder_days=int(config["ONECLICK_BACKORDER_DAYS"]),
                         max_quantity=int(config["MAX_LINE_QUANTITY"]),
                         shipping=shipping_rule(config))


@dataclass(frozen=True)
class Confirmation:
    """The answer to a single-action request as first given; stored with the request so that
    a repeat of it gets the same answer."""

    order_id: int
    order_number: str
    person: str
    product_id: int
    product_name: str
    unit_label: str
    quantity: int
    eaches: int
    line_total: str
    order_total: str          # the order's total right after this line was added
    lines_in_order: int
    combined: bool            # added to an order that was already open
    ship_moniker: str
    ship_masked: str
    card_label: str
    expected_ship_date: str   # ISO date
    ships_from_stock: bool
    combine_until: str        # ISO datetime (UTC): the window closes, the card is charged
    # Other open orders to the same place with the same card that ship on other dates: the
    # reason this item is a separate order (claim 26). [[number, ISO date], ...]
    other_open_orders: list = field(default_factory=list)
    # Why it ships then: from stock, on the next expected arrival, or after the lead time
    # (answers recorded before this was kept say "" and read as the lead time when not in stock).
    ship_date_basis: str = ""

    def to_json(self) -> str:
        return json.dumps(vars(self), separators=(",", ":"))  # flat: asdict's deep copy is slow

    @classmethod
    def from_json(cls, text: str) -> "Confirmation":
        return cls(**json.loads(text))

    @property
    def ship_date(self) -> date:
        return date.fromisoformat(self.expected_ship_date)

    @property
    def ships_on_arrival(self) -> bool:
        return self.ship_date_basis == SHIPS_ON_ARRIVAL

    @property
    def window_closes(self) -> datetime:
        return datetime.fromisoformat(self.combine_until)

    @property
    def split_from(self) -> list[tuple[str, date]]:
        return [(number, date.fromisoformat(day)) for number, day in self.other_open_orders]


# --- Turning 1-Click on and off ---------------------------------------------------------------

def enable_oneclick(session: Session, *, user: User, token_hash: str, label: str, address_id: int,
                    card_id: int, today: date, now: datetime, keyboard_shortcut: bool | None = None,
                    voice_action: bool | None = None) -> OneClickSetting:
    """Turn on (or change) 1-Click for ``user`` on the browser whose token hashes to
    ``token_hash``, with one of their addresses and one of their usable cards. The browser's
    identifier is created on first use. Raises ClientRevoked for a revoked identifier: the
    caller gives the browser a new token. ``None`` for a preference keeps the current one."""
    if user.role not in SHOPPER_ROLES:
        raise Forbidden("Only members and IBOs can order with 1-Click.")
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    client = _client_for_enabling(session, token_hash, label, now)
    setting = session.scalar(select(OneClickSetting).where(OneClickSetting.client_id == client.id,
                                                           OneClickSetting.user_id == user.id))
    if setting is None:
        setting = _insert_or_fetch(
            session, OneClickSetting(client_id=client.id, user_id=user.id, address_id=address.id,
                                     payment_method_id=card.id, enabled_at=now),
            select(OneClickSetting).where(OneClickSetting.client_id == client.id,
                                          OneClickSetting.user_id == user.id))
    if setting.disabled_at is not None:
        setting.disabled_at, setting.enabled_at = None, now
    setting.address_id, setting.payment_method_id = address.id, card.id
    if keyboard_shortcut is not None:
        setting.keyboard_shortcut = keyboard_shortcut
    if voice_action is not None:
        setting.voice_action = voice_action
    session.flush()
    return setting


def enable_from_order(session: Session, *, user: User, order_id: int, token_hash: str, label: str,
                      today: date, now: datetime) -> OneClickSetting:
    """Turn on 1-Click on this browser with the address and card of one of ``user``'s earlier
    orders (claims 2, 24): nothing to enter again."""
    order = order_for(session, user, order_id)
    if order.address_id is None or order.payment_method_id is None:
        raise OneClickError("That order's address or card is no longer stored. "
                            "Choose them in the 1-Click settings.")
    return enable_oneclick(session, user=user, token_hash=token_hash, label=label,
                           address_id=order.address_id, card_id=order.payment_method_id,
                           today=today, now=now)


def _client_for_enabling(session: Session, token_hash: str, label: str,
                         now: datetime) -> ClientIdentifier:
    client = client_by_hash(session, token_hash)
    if client is None:
        client = _insert_or_fetch(
            session, ClientIdentifier(token_hash=token_hash, label=label[:80], created_at=now),
            select(ClientIdentifier).where(ClientIdentifier.token_hash == token_hash))
    if client.revoked_at is not None:
        raise ClientRevoked()
    client.label = label[:80] or client.label
    return client


def _insert_or_fetch(session: Session, row, existing):
    """Insert ``row``; if a concurrent request inserted its twin first, return that one."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = session.scalar(existing)
        if twin is None:
            raise
        return twin
    return row


def disable_here(session: Session, *, user: User, token_hash: str | None, now: datetime) -> bool:
    """Turn off ``user``'s 1-Click on this browser; whether it was on."""
    client = client_by_hash(session, token_hash)
    if client is None:
        return False
    return _disable(session, user, [client.id], now) > 0


def disable_on_client(session: Session, *, user: User, client_id: int, now: datetime) -> None:
    """Turn off ``user``'s 1-Click on one of their browsers (from the devices page)."""
    if _disable(session, user, [client_id], now) == 0:
        raise NotFound("1-Click is not on for you on that browser.")


def disable_everywhere(session: Session, *, user: User, now: datetime) -> int:
    """Turn off ``user``'s 1-Click on every browser; how many browsers that was."""
    client_ids = list(session.scalars(select(OneClickSetting.client_id).where(
        OneClickSetting.user_id == user.id, OneClickSetting.disabled_at.is_(None))))
    return _disable(session, user, client_ids, now)


def _disable(session: Session, user: User, client_ids: list[int], now: datetime) -> int:
    if not client_ids:
        return 0
    turned_off = session.execute(
        update(OneClickSetting)
        .where(OneClickSetting.user_id == user.id, OneClickSetting.client_id.in_(client_ids),
               OneClickSetting.disabled_at.is_(None))
        .values(disabled_at=now)
        .execution_options(synchronize_session="fetch")).rowcount
    # A browser nobody uses for 1-Click any more is revoked for good: a copy of its cookie
    # can never order again, and turning 1-Click on there later issues a new identifier.
    still_used = set(session.scalars(select(OneClickSetting.client_id).where(
        OneClickSetting.client_id.in_(client_ids), OneClickSetting.disabled_at.is_(None))))
    unused = [client_id for client_id in client_ids if client_id not in still_used]
    if unused:
        session.execute(update(ClientIdentifier)
                        .where(ClientIdentifier.id.in_(unused), ClientIdentifier.revoked_at.is_(None))
                        .values(revoked_at=now).execution_options(synchronize_session="fetch"))
    session.flush()
    return turned_off


# --- Changing an order while its window is open -------------------------------------------------

def _order_in_window(session: Session, owner_id: int, order_id: int, now: datetime) -> Order:
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    if order is None or order.user_id != owner_id or order.source != OrderSource.ONECLICK:
        raise NotFound("We could not find that 1-Click order.")
    if order.status != OrderStatus.OPEN:
        label = STATUS_LABELS[OrderStatus(order.status)].lower()
        raise WindowClosed(f"Order {order.number} is {label}: it can no longer be changed here.")
    if order.combine_until is None or order.combine_until <= now:
        raise WindowClosed(f"The time to change order {order.number} is over: it is being "
                           "charged and packed.")
    return order


def cancel_oneclick_line(session: Session, *, owner_id: int, order_id: int, line_id: int,
                         rules: OneClickRules, now: datetime) -> Order:
    """Take one line out of an open single-action order (cancelling the order with its last
    line); only while the combining window is open."""
    order = _order_in_window(session, owner_id, order_id, now)
    session.execute(update(OneClickRequest)
                    .where(OneClickRequest.order_id == order.id,
                           OneClickRequest.order_line_id == line_id)
                    .values(cancelled_at=now).execution_options(synchronize_session="fetch"))
    remove_order_line(session, order, line_id, rules.shipping)
    return order


def cancel_oneclick_press(session: Session, *, press: OneClickRequest, rules: OneClickRules,
                          now: datetime) -> Order:
    """Take back one press of a 1-Click button (the confirmation's "Cancel this item")."""
    if press.cancelled_at is not None or press.order_line_id is None:
        raise WindowClosed("That item is already cancelled.")
    return cancel_oneclick_line(session, owner_id=press.user_id, order_id=press.order_id,
                                line_id=press.order_line_id, rules=rules, now=now)


def cancel_oneclick_order(session: Session, *, owner_id: int, order_id: int,
                          now: datetime) -> Order:
    """Cancel a whole open single-action order; only while the combining window is open."""
    order = _order_in_window(session, owner_id, order_id, now)
    change_status(session, order, OrderStatus.CANCELLED, "cancelled by the person")
    session.execute(update(OneClickRequest)
                    .where(OneClickRequest.order_id == order.id,
                           OneClickRequest.cancelled_at.is_(None))
                    .values(cancelled_at=now).execution_options(synchronize_session="fetch"))
    session.flush()
    return order


# --- Finalising when the window closes ---------------------------------------------------------

def close_window(session: Session, *, order_id: int, now: datetime, today: date) -> str:
    """First step of finalising: an open order whose window has closed is committed to be
    charged (``pending_payment``), or fails at once if its card cannot be used any more.
    Safe to run any number of times."""
    order = _locked_oneclick_order(session, order_id)
    if order is None or order.status != OrderStatus.OPEN:
        return "nothing to do"
    if order.combine_until is not None and order.combine_until > now:
        return "window still open"
    card = session.get(PaymentMethod, order.payment_method_id)
    if card is None or card.archived_at is not None or card.expired_on(today):
        reason = "the card was removed from the wallet" if card is None or card.archived_at \
            else f"the card expired {card.expiry}"
        change_status(session, order, OrderStatus.PAYMENT_FAILED, reason)
        _tell_payment_failed(session, order, reason)
        return "payment_failed"
    change_status(session, order, OrderStatus.PENDING_PAYMENT, "combining window closed")
    return "closed"


def charge_closed_order(session: Session, *, order_id: int, gateway: PaymentGateway) -> str:
    """Second step: charge a closed order once and release it to fulfilment (``paid``).

    The gateway's idempotency key is the order's, so a re-run after a crash between the charge
    and the commit gets the first charge back instead of charging again. A decline fails the
    order and tells the person; a processor outage raises and a later sweep tries again."""
    order = _locked_oneclick_order(session, order_id)
    if order is None or order.status != OrderStatus.PENDING_PAYMENT:
        return "nothing to do"
    card = session.get(PaymentMethod, order.payment_method_id)
    try:
        charge_order(session, order, gateway, card.token,
                     idempotency_key=f"oneclick-order:{order.id}")
    except PaymentDeclined as declined:
        change_status(session, order, OrderStatus.PAYMENT_FAILED, declined.code)
        _tell_payment_failed(session, order, declined.message)
        return "payment_failed"
    request_planning(session, "oneclick")  # a paid order is released to fulfilment
    user = session.get(User, order.user_id)
    queue_mail(session, user=user, subject=f"1-Click order {order.number} confirmed",
               body=_confirmation_mail(order))
    return "paid"


def _locked_oneclick_order(session: Session, order_id: int) -> Order | None:
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update()
                           .execution_options(populate_existing=True))
    return order if order is not None and order.source == OrderSource.ONECLICK else None


def _confirmation_mail(order: Order) -> str:
    lines = "\n".join(f"  {line.quantity} x {line.name} ({line.unit_code}, {line.eaches} eaches)"
                      f"  ${line.line_total}" for line in order.lines)
    ships = f"Expected to ship {order.expected_ship_date:%B %d, %Y}.\n" \
        if order.expected_ship_date else ""
    return (f"Your 1-Click order {order.number} is confirmed.\n\n{lines}\n\n"
            f"Subtotal ${order.subtotal}\nShipping ${order.shipping_fee}\nTotal ${order.total}\n"
            f"PV {order.pv_total}\n\nCharged to {order.payment_label}.\n"
            f"Ships to {order.ship_moniker}: {order.ship_to_one_line}\n{ships}")


def _tell_payment_failed(session: Session, order: Order, reason: str) -> None:
    user = session.get(User, order.user_id)
    queue_mail(session, user=user, subject=f"1-Click order {order.number}: payment failed",
               body=(f"We could not charge {order.payment_label} ${order.total} for your 1-Click "
                     f"order {order.number}: {reason}\n\nNothing will ship. Update your wallet "
                     "and 1-Click settings, then order again.\n"))

