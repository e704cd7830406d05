"""1-Click: turning it on and off per browser, placing single-action orders exactly once,
combining them while a short window is open, and finalising them when it closes.

Placing an order is serialised per person (a row lock on PostgreSQL; SQLite serialises every
writer), so a repeat of the same button always finds the first request's row, and two
different clicks always find the same open order to combine into. The unique idempotency key
makes "exactly once" true even where the lock does not reach (someone else's request with the
same key).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload, lazyload

from portal.accounts.models import Role, User
from portal.addresses.services import owned_address
from portal.catalog.models import Product, ProductUnit
from portal.catalog.services import active_product, sellable_unit
from portal.errors import DomainError, Forbidden, NotFound
from portal.fulfilment.services import request_planning
from portal.mail.services import queue_mail
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.queries import (client_by_hash, request_by_key,
                                     stored_details_problem)
from portal.orders.models import Order, OrderLine, OrderSource
from portal.orders.pricing import PricedLine, ShippingRule, shipping_rule
from portal.orders.services import (add_order_line, change_status, charge_order, open_order,
                                    order_for, remove_order_line)
from portal.orders.states import STATUS_LABELS, OrderStatus
from portal.payments.gateway import PaymentDeclined, PaymentGateway
from portal.payments.models import PaymentMethod
from portal.payments.services import usable_card

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,80}$")
SHOPPER_ROLES = (Role.MEMBER, Role.IBO)
DEFAULT_BACKORDER_DAYS = 14
LAST_USED_PRECISION = timedelta(minutes=1)


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Confirmation":
        return cls(**json.loads(text))

    @property
    def ship_date(self) -> date:
        return date.fromisoformat(self.expected_ship_date)

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


# --- Placing single-action orders --------------------------------------------------------------

def expected_ship_date(session: Session, product: Product, eaches: int, today: date, *,
                       backorder_days: int = DEFAULT_BACKORDER_DAYS) -> date:
    """When ``eaches`` of ``product`` can ship: today from the stock available now, otherwise
    after the backorder lead time. The one place that will consult expected stock arrivals."""
    available = product.stock.available if product.stock is not None else 0
    return today if available >= eaches else today + timedelta(days=backorder_days)


def place_oneclick_order(session: Session, *, token_hash: str | None, person_id: int,
                         product_id: int, unit_code: str, quantity: int, idempotency_key: str,
                         rules: OneClickRules, now: datetime,
                         today: date) -> tuple[Confirmation, bool]:
    """Order ``quantity`` of a product in ``unit_code`` for ``person_id`` with the address and
    card they stored for this browser (claims 1, 3, 21, 36), exactly once per
    ``idempotency_key``. Returns the confirmation and whether it repeats an earlier answer.

    The line joins the person's open single-action order to the same address, with the same
    card and the same expected ship date while its window lasts (claim 25); otherwise it opens
    a new order (one per ship date: claim 26). Nothing is charged until the window closes.
    If another person's request took the key meanwhile, the session is rolled back and
    IdempotencyKeyReused raised.
    """
    if not isinstance(idempotency_key, str) or not KEY_PATTERN.match(idempotency_key):
        raise OneClickError("This 1-Click button is not valid. Reload the page and try again.")
    found = _setting_on_client(session, token_hash, person_id, now, rules.max_per_hour)
    if found is None or found[0].client.revoked_at is not None:
        client = client_by_hash(session, token_hash)  # only to say what is wrong
        if client is None or client.revoked_at is not None:
            raise ClientNotRecognised()
        raise OneClickOff()
    setting, recent = found
    client, user = setting.client, setting.user
    if setting.disabled_at is not None or not user.active or user.role not in SHOPPER_ROLES:
        raise OneClickOff()
    request = (person_id, product_id, unit_code, quantity)
    earlier = request_by_key(session, idempotency_key)
    if earlier is not None:
        return _replay(earlier, client.id, request), True

    product, unit = _orderable(session, product_id, unit_code, quantity, rules.max_quantity)
    problem = stored_details_problem(setting.address, setting.card, user, today)
    if problem:
        raise StoredDetailsUnusable(problem)
    if recent >= rules.max_per_hour:
        raise TooManyOrders(f"This browser has placed {rules.max_per_hour} 1-Click orders in the "
                            "last hour, the most we accept. Please use the cart and checkout.")
    if setting.last_used_at is None or now - setting.last_used_at >= LAST_USED_PRECISION:
        client.last_used_at = setting.last_used_at = now  # not rewritten on every press
    try:
        confirmation = _add_line(session, client=client, setting=setting, product=product,
                                 unit=unit, quantity=quantity, idempotency_key=idempotency_key,
                                 rules=rules, now=now, today=today)
    except IntegrityError as error:
        # Under the person's lock only someone else's request can hold this key: a reuse.
        if "idempotency_key" not in str(error.orig):
            raise
        session.rollback()
        raise IdempotencyKeyReused("This 1-Click button was already used for another order. "
                                   "Reload the page to order this item.") from None
    return confirmation, False


def _setting_on_client(session: Session, token_hash: str | None, person_id: int, now: datetime,
                       cap: int) -> tuple[OneClickSetting, int] | None:
    """The person's setting on this browser with everything an order needs, and how many
    requests the browser made in the last hour (counted up to ``cap``), in one query.

    It also takes the person's row lock (PostgreSQL; SQLite serialises every writing
    transaction from its first statement): one single-action order at a time per person, so
    a twin of this request that came first has committed and its key is visible, and two
    different presses find the same open order to combine into."""
    if not token_hash:
        return None
    row = session.execute(_SETTING_ON_CLIENT, {
        "token_hash": token_hash, "person_id": person_id, "since": now - timedelta(hours=1),
        "cap": cap}).first()
    return (row[0], row[1]) if row is not None else None


# Built once: the hot path of every press pays for executing these, not for composing them.
_RECENT_REQUESTS = (select(OneClickRequest.id)
                    .where(OneClickRequest.client_id == ClientIdentifier.id,
                           OneClickRequest.created_at > bindparam("since"))
                    .limit(bindparam("cap")).correlate(ClientIdentifier).subquery())
_SETTING_ON_CLIENT = (
    select(OneClickSetting, select(func.count()).select_from(_RECENT_REQUESTS).scalar_subquery())
    .join(OneClickSetting.client).join(OneClickSetting.user)
    .where(ClientIdentifier.token_hash == bindparam("token_hash"),
           OneClickSetting.user_id == bindparam("person_id"))
    .options(contains_eager(OneClickSetting.client), contains_eager(OneClickSetting.user),
             joinedload(OneClickSetting.address, innerjoin=True),
             joinedload(OneClickSetting.card, innerjoin=True))
    .with_for_update(of=User, key_share=True))
_LINE_COUNT = (select(func.count()).select_from(OrderLine)
               .where(OrderLine.order_id == Order.id).correlate(Order).scalar_subquery())
_OPEN_HERE = (select(Order, _LINE_COUNT)  # open orders to combine into, and their line counts
              .where(Order.user_id == bindparam("user_id"), Order.source == OrderSource.ONECLICK,
                     Order.status == OrderStatus.OPEN, Order.address_id == bindparam("address_id"),
                     Order.payment_method_id == bindparam("card_id"),
                     Order.combine_until > bindparam("now"))
              .order_by(Order.id).with_for_update(of=Order))
_ORDERABLE = (select(Product, ProductUnit)
              .join(ProductUnit, ProductUnit.product_id == Product.id)
              .where(Product.id == bindparam("product_id"), ProductUnit.code == bindparam("unit_code"))
              .options(lazyload(Product.units)))


def _orderable(session: Session, product_id: int, unit_code: str, quantity: int,
               max_quantity: int) -> tuple[Product, ProductUnit]:
    """The product (with its stock) and the unit to order, in one query; the catalog's own
    checks explain a refusal."""
    row = session.execute(_ORDERABLE, {"product_id": product_id, "unit_code": unit_code}).first()
    if row is not None:
        product, unit = row
        if product.active and unit.active and isinstance(quantity, int) \
                and 1 <= quantity <= max_quantity:
            return product, unit
    product = active_product(session, product_id)
    return product, sellable_unit(product, unit_code, quantity, max_quantity)


def _replay(earlier: OneClickRequest, client_id: int, request: tuple) -> Confirmation:
    if (earlier.client_id, earlier.user_id, earlier.product_id, earlier.unit_code,
            earlier.quantity) != (client_id, *request):
        raise IdempotencyKeyReused("This 1-Click button was already used for another order. "
                                   "Reload the page to order this item.")
    return Confirmation.from_json(earlier.outcome)


def _add_line(session: Session, *, client: ClientIdentifier, setting: OneClickSetting,
              product: Product, unit: ProductUnit, quantity: int, idempotency_key: str,
              rules: OneClickRules, now: datetime, today: date) -> Confirmation:
    user, address, card = setting.user, setting.address, setting.card
    ship_date = expected_ship_date(session, product, unit.eaches_per_unit * quantity, today,
                                   backorder_days=rules.backorder_days)
    priced = PricedLine(product_id=product.id, sku=product.sku, name=product.name,
                        unit_code=unit.code, eaches_per_unit=unit.eaches_per_unit,
                        quantity=quantity, unit_price=unit.price, unit_pv=unit.pv, unit_bv=unit.bv)
    open_here = session.execute(_OPEN_HERE, {"user_id": user.id, "address_id": address.id,
                                             "card_id": card.id, "now": now}).all()
    order, lines_in_order = next(((o, n + 1) for o, n in open_here
                                  if o.expected_ship_date == ship_date), (None, 1))
    combined = order is not None
    if combined:
        line = add_order_line(session, order, priced, rules.shipping)
    else:
        order = open_order(user=user, source=OrderSource.ONECLICK, lines=[priced], address=address,
                           card=card, shipping=rules.shipping, combine_until=now + rules.combine_window,
                           expected_ship_date=ship_date)
        session.add(order)
        session.flush()  # the new order's number goes into the confirmation
        line = order.lines[0]
    confirmation = Confirmation(
        order_id=order.id, order_number=order.number, person=user.short_name,
        product_id=product.id, product_name=product.name, unit_label=unit.label,
        quantity=quantity, eaches=line.eaches, line_total=str(line.line_total),
        order_total=str(order.total), lines_in_order=lines_in_order, combined=combined,
        ship_moniker=address.moniker, ship_masked=address.masked, card_label=card.label,
        expected_ship_date=ship_date.isoformat(), ships_from_stock=ship_date == today,
        combine_until=order.combine_until.isoformat(),
        other_open_orders=[[other.number, other.expected_ship_date.isoformat()]
                           for other, _ in open_here if other is not order])
    session.add(OneClickRequest(idempotency_key=idempotency_key, client_id=client.id,
                                user_id=user.id, product_id=product.id, unit_code=unit.code,
                                quantity=quantity, order_id=order.id, order_line=line,
                                outcome=confirmation.to_json(), created_at=now))
    session.flush()  # the line, the order's new totals and this request: one round
    return confirmation


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

