"""1-Click: turning it on and off per browser, placing single-action orders exactly once,
combining them while a short window is open, and finalising them when it closes.

Placing an order is serialised per person (a row lock on PostgreSQL; SQLite serialises every
writer), so two different clicks always find the same open order to combine into. A repeat of
the same button finds the first request's row; the unique idempotency key makes "exactly once"
true where that look-up came too early (a twin that committed while this request waited for
the lock, or someone else's request with the same key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import NamedTuple

from sqlalchemy import Connection, and_, bindparam, case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.addresses.models import Address
from portal.addresses.services import owned_address
from portal.catalog.models import Product, ProductUnit, StockLevel, unit_label
from portal.catalog.services import active_product, sellable_unit
from portal.db import DriverStatement, json_array
from portal.errors import DomainError, Forbidden, NotFound
from portal.fulfilment.models import PurchaseOrderLine
from portal.fulfilment.planning import expected_arrivals_query
from portal.fulfilment.services import request_planning
from portal.mail.services import queue_mail
from portal.oneclick import recording
from portal.oneclick.forms import BUTTON_NOT_VALID, KEY_PATTERN
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.queries import client_by_hash, press_by_key, stored_details_problem
from portal.orders.models import Order, OrderLine, OrderSource, order_number
from portal.orders.pricing import PricedLine, ShippingRule, shipping_rule, totals
from portal.orders.services import (add_line_to_open_order, change_status, charge_order,
                                    insert_open_order, order_for, remove_order_line,
                                    totals_with_line)
from portal.orders.states import STATUS_LABELS, OrderStatus
from portal.payments.gateway import PaymentDeclined, PaymentGateway
from portal.payments.models import PaymentMethod
from portal.payments.services import usable_card

SHOPPER_ROLES = (Role.MEMBER, Role.IBO)
DEFAULT_BACKORDER_DAYS = 14
LAST_USED_PRECISION = timedelta(minutes=1)
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


# --- Placing single-action orders --------------------------------------------------------------
#
# A press is the hottest write in the portal, so it runs on Core statements built once (no unit
# of work, no ORM loading) in few round trips: one query for the setting with the person's row
# lock, the hourly count, an earlier press with the same key and the product; one for the open
# orders; then the inserts and the update of the order's totals.

_CLIENTS, _SETTINGS, _REQUESTS = (ClientIdentifier.__table__, OneClickSetting.__table__,
                                  OneClickRequest.__table__)
_USERS, _ADDRESSES, _CARDS = User.__table__, Address.__table__, PaymentMethod.__table__
_PRODUCTS, _UNITS, _STOCK = Product.__table__, ProductUnit.__table__, StockLevel.__table__
_ORDERS, _LINES = Order.__table__, OrderLine.__table__
_USER_FIELDS = ("id", "first_name", "last_name", "active", "role")
_ADDRESS_FIELDS = ("id", "user_id", "moniker", "full_name", "line1", "line2", "city", "region",
                   "postal_code", "country", "destination_key", "archived_at")
_CARD_FIELDS = ("id", "user_id", "brand", "last4", "exp_month", "exp_year", "archived_at")

_RECENT_REQUESTS = (select(_REQUESTS.c.id)
                    .where(_REQUESTS.c.client_id == _CLIENTS.c.id,
                           _REQUESTS.c.created_at > bindparam("since"))
                    .limit(bindparam("cap")).correlate(_CLIENTS).subquery())
_PRESS_FIELDS = ("client_id", "user_id", "product_id", "unit_code", "quantity", "outcome")
_EARLIER = _REQUESTS.alias("earlier")
_PRESS_ON_CLIENT = DriverStatement(
    select(_SETTINGS.c.id.label("setting_id"), _SETTINGS.c.disabled_at, _SETTINGS.c.last_used_at,
           _CLIENTS.c.id.label("client_id"), _CLIENTS.c.revoked_at,
           json_array(*(_USERS.c[name] for name in _USER_FIELDS),
                      *(_ADDRESSES.c[name] for name in _ADDRESS_FIELDS),
                      *(_CARDS.c[name] for name in _CARD_FIELDS)).label("stored_details"),
           select(func.count()).select_from(_RECENT_REQUESTS).scalar_subquery().label("recent"),
           case((_EARLIER.c.id.is_not(None),
                 json_array(*(_EARLIER.c[name] for name in _PRESS_FIELDS)))).label("earlier"),
           _PRODUCTS.c.sku, _PRODUCTS.c.name, _PRODUCTS.c.active.label("product_active"),
           _UNITS.c.eaches_per_unit, _UNITS.c.price, _UNITS.c.pv, _UNITS.c.bv,
           _UNITS.c.active.label("unit_active"),
           func.coalesce(_STOCK.c.on_hand - _STOCK.c.allocated, 0).label("available"))
    .select_from(
        _SETTINGS.join(_CLIENTS, _CLIENTS.c.id == _SETTINGS.c.client_id)
        .join(_USERS, _USERS.c.id == _SETTINGS.c.user_id)
        .join(_ADDRESSES, _ADDRESSES.c.id == _SETTINGS.c.address_id)
        .join(_CARDS, _CARDS.c.id == _SETTINGS.c.payment_method_id)
        .outerjoin(_EARLIER, _EARLIER.c.idempotency_key == bindparam("key"))
        .outerjoin(_PRODUCTS, _PRODUCTS.c.id == bindparam("product_id"))
        .outerjoin(_UNITS, and_(_UNITS.c.product_id == _PRODUCTS.c.id,
                                _UNITS.c.code == bindparam("unit_code")))
        .outerjoin(_STOCK, _STOCK.c.product_id == _PRODUCTS.c.id))
    .where(_CLIENTS.c.token_hash == bindparam("token_hash"),
           _SETTINGS.c.user_id == bindparam("person_id"))
    .with_for_update(of=_USERS, key_share=True))
_OPEN_HERE = (  # open orders to combine into, with their line counts
    select(_ORDERS.c.id, _ORDERS.c.expected_ship_date, _ORDERS.c.combine_until,
           _ORDERS.c.subtotal, _ORDERS.c.pv_total, _ORDERS.c.bv_total,
           select(func.count()).select_from(_LINES).where(_LINES.c.order_id == _ORDERS.c.id)
           .correlate(_ORDERS).scalar_subquery().label("lines"))
    .where(_ORDERS.c.user_id == bindparam("user_id"), _ORDERS.c.source == OrderSource.ONECLICK,
           _ORDERS.c.status == OrderStatus.OPEN, _ORDERS.c.address_id == bindparam("address_id"),
           _ORDERS.c.payment_method_id == bindparam("card_id"),
           _ORDERS.c.combine_until > bindparam("now"))
    .order_by(_ORDERS.c.id).with_for_update(of=_ORDERS))
_NEXT_ARRIVAL = expected_arrivals_query().where(
    PurchaseOrderLine.product_id == bindparam("product_id"))
_TOUCH_SETTING = update(_SETTINGS).where(_SETTINGS.c.id == bindparam("setting_id"))
_TOUCH_CLIENT = update(_CLIENTS).where(_CLIENTS.c.id == bindparam("client_id"))


class ShipDate(NamedTuple):
    day: date
    basis: str  # SHIPS_FROM_STOCK, SHIPS_ON_ARRIVAL or SHIPS_AFTER_LEAD_TIME


def expected_ship_date(session: Session | Connection, *, product_id: int, available: int,
                       eaches: int, today: date,
                       backorder_days: int = DEFAULT_BACKORDER_DAYS) -> ShipDate:
    """When ``eaches`` of a product can ship: today if that many are available now; otherwise
    on the next expected stock arrival for it (the planner's own ``expected_arrivals_query``),
    but not before tomorrow (an arrival due today has not come in yet); with no arrival
    known, after the backorder lead time."""
    if available >= eaches:
        return ShipDate(today, SHIPS_FROM_STOCK)
    arrival = session.execute(_NEXT_ARRIVAL, {"product_id": product_id}).first()
    if arrival is None:
        return ShipDate(today + timedelta(days=backorder_days), SHIPS_AFTER_LEAD_TIME)
    return ShipDate(max(arrival.expected_on, today + timedelta(days=1)), SHIPS_ON_ARRIVAL)


def place_oneclick_order(session: Session, **press) -> tuple[Confirmation, bool]:
    """``place_press`` for a caller holding an ORM session: the press runs on the session's
    connection, in its transaction, and what the session held is read again afterwards."""
    session.flush()  # the statements go past the unit of work: it must have nothing left
    try:
        placed = _place(session.connection(), **press)
    except _KeyTakenMeanwhile as race:
        session.rollback()
        return race.replay(session.connection()), True
    _expire(session, placed[0].order_id)
    return placed


def place_press(connection: Connection, **press) -> tuple[Confirmation, bool]:
    """Order ``quantity`` of a product in ``unit_code`` for ``person_id`` with the address and
    card they stored for this browser (claims 1, 3, 21, 36), exactly once per
    ``idempotency_key``, on a Core connection whose transaction the caller commits. Returns
    the confirmation and whether it repeats an earlier answer. (The view uses a connection:
    an ORM session's bookkeeping around a press cost a twentieth of it.)

    The line joins the person's open single-action order to the same address, with the same
    card and the same expected ship date while its window lasts (claim 25); otherwise it opens
    a new order (one per ship date: claim 26). Nothing is charged until the window closes.
    If the key was committed after this request first looked (a twin of it, or someone else's
    request), the transaction is rolled back and the first answer given, or
    IdempotencyKeyReused raised if that asked for something else.
    """
    try:
        return _place(connection, **press)
    except _KeyTakenMeanwhile as race:
        connection.rollback()
        return race.replay(connection), True


class _KeyTakenMeanwhile(Exception):
    """The unique key refused this press's request row: the caller rolls back, then
    ``replay`` gives the answer of the request that holds the key."""

    def __init__(self, key: str, request: tuple) -> None:
        super().__init__(key)
        self.key, self.request = key, request

    def replay(self, connection: Connection) -> Confirmation:
        earlier = press_by_key(connection, self.key)
        if earlier is None:
            raise self.__cause__
        return _replay(tuple(earlier), self.request)


def _place(connection: Connection, *, token_hash: str | None, person_id: int, product_id: int,
           unit_code: str, quantity: int, idempotency_key: str, rules: OneClickRules,
           now: datetime, today: date) -> tuple[Confirmation, bool]:
    if not isinstance(idempotency_key, str) or not KEY_PATTERN.match(idempotency_key):
        raise OneClickError(BUTTON_NOT_VALID)
    press = _press_on_client(connection, token_hash=token_hash, person_id=person_id,
                             product_id=product_id, unit_code=unit_code, key=idempotency_key,
                             now=now, cap=rules.max_per_hour)
    if press is None or press.revoked_at is not None:
        with Session(connection) as session:  # only to say what is wrong
            client = client_by_hash(session, token_hash)
        if client is None or client.revoked_at is not None:
            raise ClientNotRecognised()
        raise OneClickOff()
    user, address, card = _stored_details(press)
    if press.disabled_at is not None or not user.active or user.role not in SHOPPER_ROLES:
        raise OneClickOff()
    request = (press.client_id, person_id, product_id, unit_code, quantity)
    earlier = _earlier_press(press)
    if earlier is not None:
        return _replay(earlier, request), True

    item = _orderable(connection, press, product_id, unit_code, quantity, rules.max_quantity)
    problem = stored_details_problem(address, card, user, today)
    if problem:
        raise StoredDetailsUnusable(problem)
    if press.recent >= rules.max_per_hour:
        raise TooManyOrders(f"This browser has placed {rules.max_per_hour} 1-Click orders in the "
                            "last hour, the most we accept. Please use the cart and checkout.")
    if press.last_used_at is None or now - press.last_used_at >= LAST_USED_PRECISION:
        # Not rewritten on every press.
        connection.execute(_TOUCH_SETTING, {"setting_id": press.setting_id, "last_used_at": now})
        connection.execute(_TOUCH_CLIENT, {"client_id": press.client_id, "last_used_at": now})
    try:
        confirmation = _add_line(connection, client_id=press.client_id, user=user,
                                 address=address, card=card, item=item, quantity=quantity,
                                 idempotency_key=idempotency_key, rules=rules, now=now,
                                 today=today)
    except IntegrityError as error:
        if "idempotency_key" not in str(error.orig):
            raise
        # The key was committed after the first query read: by a twin of this request that
        # held the person's lock (PostgreSQL reads the joined rows as of the query's start,
        # before the wait for the lock), or by someone else's request. Its answer decides.
        raise _KeyTakenMeanwhile(idempotency_key, request) from error
    return confirmation, False


def _press_on_client(connection: Connection, *, token_hash: str | None, person_id: int,
                     product_id: int, unit_code: str, key: str, now: datetime,
                     cap: int) -> SimpleNamespace | None:
    """In one query: the person's setting on this browser with everything an order needs, how
    many requests the browser made in the last hour (counted up to ``cap``), the request that
    already used ``key`` if any, and the product in ``unit_code`` with its available stock.

    It also takes the person's row lock (PostgreSQL; SQLite serialises every writing
    transaction from its first statement): one single-action order at a time per person, so
    two different presses find the same open order to combine into.

    The row comes back as a plain namespace of its columns (the statement runs on the
    driver's cursor, which gives a tuple): a press reads some fifty of them by name."""
    if not token_hash:
        return None
    row = _PRESS_ON_CLIENT.first(connection, {
        "token_hash": token_hash, "person_id": person_id, "since": now - timedelta(hours=1),
        "cap": cap, "key": key, "product_id": product_id, "unit_code": unit_code})
    return None if row is None else SimpleNamespace(**dict(zip(_PRESS_ON_CLIENT.names, row)))


def _stored_details(setting: SimpleNamespace) -> tuple[User, Address, PaymentMethod]:
    """The person, address and card of a setting row, with their models' properties (short
    name, masked address, card label, expiry) but none of their machinery: building three
    mapped objects cost a tenth of a press. Their columns come as one JSON array (times as
    text, which is only ever compared with None here)."""
    values = setting.stored_details
    card_from = len(_USER_FIELDS) + len(_ADDRESS_FIELDS)
    return (_PersonView(values[:len(_USER_FIELDS)], _USER_FIELDS),
            _AddressView(values[len(_USER_FIELDS):card_from], _ADDRESS_FIELDS),
            _CardView(values[card_from:], _CARD_FIELDS))


def _row_view(model: type, fields: tuple[str, ...], borrowed: tuple[str, ...]) -> type:
    """A plain class holding ``fields`` of a row, with ``model``'s own definitions of the
    properties and methods ``borrowed``."""
    def __init__(self, values: list, names: tuple[str, ...]) -> None:
        for name, value in zip(names, values, strict=True):
            setattr(self, name, value)

    return type(f"{model.__name__}View", (), {"__slots__": fields, "__init__": __init__,
                                             **{name: model.__dict__[name] for name in borrowed}})


_PersonView = _row_view(User, _USER_FIELDS, ("short_name",))
_AddressView = _row_view(Address, _ADDRESS_FIELDS, ("masked",))
_CardView = _row_view(PaymentMethod, _CARD_FIELDS, ("label", "expiry", "expired_on"))


@dataclass(frozen=True)
class _Item:
    line: PricedLine
    unit_label: str
    available: int


def _orderable(connection: Connection, press: SimpleNamespace, product_id: int, unit_code: str,
               quantity: int, max_quantity: int) -> _Item:
    """The line to order, priced, and the eaches available now; the catalog's own checks
    explain a refusal."""
    if press.sku is None or not (press.product_active and press.unit_active
                                 and isinstance(quantity, int) and 1 <= quantity <= max_quantity):
        with Session(connection) as session:
            sellable_unit(active_product(session, product_id), unit_code, quantity, max_quantity)
        raise AssertionError("the catalog accepts what the query refused")  # pragma: no cover
    return _Item(line=PricedLine(product_id=product_id, sku=press.sku, name=press.name,
                                 unit_code=unit_code, eaches_per_unit=press.eaches_per_unit,
                                 quantity=quantity, unit_price=press.price, unit_pv=press.pv,
                                 unit_bv=press.bv),
                 unit_label=unit_label(unit_code, press.eaches_per_unit),
                 available=press.available)


def _earlier_press(press: SimpleNamespace) -> tuple | None:
    """The request that used this press's key before, as read by the first query."""
    return None if press.earlier is None else tuple(press.earlier)


def _replay(earlier: tuple, request: tuple) -> Confirmation:
    """The first answer to a key, if this request is the same as the first (client, person,
    product, unit and quantity)."""
    *asked, outcome = earlier
    if tuple(asked) != request:
        raise IdempotencyKeyReused("This 1-Click button was already used for another order. "
                                   "Reload the page to order this item.")
    return Confirmation.from_json(outcome)


def _add_line(connection: Connection, *, client_id: int, user: User,
              address: Address, card: PaymentMethod, item: _Item, quantity: int,
              idempotency_key: str, rules: OneClickRules, now: datetime,
              today: date) -> Confirmation:
    priced = item.line
    ship_date, basis = expected_ship_date(connection, product_id=priced.product_id,
                                          available=item.available, eaches=priced.eaches,
                                          today=today, backorder_days=rules.backorder_days)
    answer = dict(  # the order chosen and its state after this line are added below
        person=user.short_name, product_id=priced.product_id, product_name=priced.name,
        unit_label=item.unit_label, quantity=quantity, eaches=priced.eaches,
        line_total=str(priced.line_total), ship_moniker=address.moniker,
        ship_masked=address.masked, card_label=card.label,
        expected_ship_date=ship_date.isoformat(), ships_from_stock=basis == SHIPS_FROM_STOCK,
        ship_date_basis=basis)
    press = recording.Press(idempotency_key=idempotency_key, client_id=client_id,
                            user_id=user.id, product_id=priced.product_id,
                            unit_code=priced.unit_code, quantity=quantity, created_at=now)
    if recording.one_statement_available(connection):
        return Confirmation.from_json(recording.place_in_one_statement(
            connection, press=press, line=priced, address=address, card=card,
            ship_date=ship_date, combine_until=now + rules.combine_window,
            shipping=rules.shipping, outcome_without_order=json.dumps(answer)))

    open_here = connection.execute(_OPEN_HERE, {"user_id": user.id, "address_id": address.id,
                                                "card_id": card.id, "now": now}).all()
    into = next((order for order in open_here if order.expected_ship_date == ship_date), None)
    if into is not None:
        after = totals_with_line(subtotal=into.subtotal, pv_total=into.pv_total,
                                 bv_total=into.bv_total, line=priced, shipping=rules.shipping)
        added = add_line_to_open_order(connection, order_id=into.id, totals_after=after,
                                       line=priced, now=now)
        combine_until, lines_in_order = into.combine_until, into.lines + 1
    else:
        after = totals([priced], rules.shipping)
        combine_until, lines_in_order = now + rules.combine_window, 1
        added = insert_open_order(connection, user_id=user.id, source=OrderSource.ONECLICK,
                                  line=priced, address=address, card=card, summary=after,
                                  placed_at=now, combine_until=combine_until,
                                  expected_ship_date=ship_date)
    confirmation = Confirmation(
        **answer, order_id=added.order_id, order_number=order_number(added.order_id),
        order_total=str(after.total), lines_in_order=lines_in_order, combined=into is not None,
        combine_until=combine_until.isoformat(),
        other_open_orders=[[order_number(other.id), other.expected_ship_date.isoformat()]
                           for other in open_here if other.expected_ship_date != ship_date])
    recording.insert_request(connection, press, order_id=added.order_id, line_id=added.line_id,
                             outcome=confirmation.to_json())
    return confirmation


def _expire(session: Session, order_id: int) -> None:
    """Objects the session already holds for rows a press may have written (the order, the
    1-Click settings and identifiers, whose last use it notes) read them again when used."""
    for held in list(session.identity_map.values()):
        if isinstance(held, (OneClickSetting, ClientIdentifier)) or (
                isinstance(held, Order) and held.id == order_id):
            session.expire(held)


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

