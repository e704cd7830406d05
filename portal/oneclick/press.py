"""One press of a 1-Click button: a line ordered exactly once, in the person's open order to
the same place, with the same card, shipping the same day, or in a new open order.

A press runs on Core statements built once, through ``Connection.execute`` (no unit of work,
no ORM loading), in a few round trips:

1. one query for the person's setting on this browser with their address and card, taking the
   person's row lock (``FOR NO KEY UPDATE``: presses of one person wait for each other, so two
   different presses find the same open order), with the browser's hourly count, the request
   that already used this key, and the product in its unit with the stock available;
2. the person's open single-action orders to this place with this card, locked. It runs once
   the person's lock is held, so it sees an order a twin press has just committed; and
   PostgreSQL checks a row it waited for again once its lock is granted, so an order cancelled
   or closed meanwhile is not among them;
3. the writes: the order's new totals (or a new order with its history row), the line, and the
   request row with the answer given.

Prices, totals, the shipping fee and the order number come from the rule book
(``portal.orders.rules`` through ``portal.orders.pricing`` and the order services): nothing
here restates them. "Exactly once" is the unique idempotency key of ``oneclick_requests``: a
repeat finds the first request in the first query, and a request that committed the key after
that query read is found by the constraint (see ``_KeyTakenMeanwhile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.catalog.models import Product, ProductUnit, StockLevel, unit_label
from portal.catalog.services import active_product, sellable_unit
from portal.fulfilment.models import PurchaseOrderLine
from portal.fulfilment.planning import expected_arrivals_query
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.queries import client_by_hash, press_by_key, stored_details_problem
from portal.oneclick.confirmation import Confirmation
from portal.oneclick.errors import (ClientNotRecognised, IdempotencyKeyReused, OneClickError,
                                    OneClickOff, StoredDetailsUnusable, TooManyOrders)
from portal.oneclick.rules import (BUTTON_NOT_VALID, KEY_PATTERN, SHIPS_AFTER_LEAD_TIME, SHIPS_FROM_STOCK,
                                   SHIPS_ON_ARRIVAL, SHOPPER_ROLES, OneClickRules)
from portal.orders.models import Order, OrderLine, OrderSource, order_number
from portal.orders.pricing import PricedLine, totals
from portal.orders.services import add_line_to_open_order, insert_open_order, totals_with_line
from portal.orders.states import OrderStatus
from portal.payments.models import PaymentMethod

DEFAULT_BACKORDER_DAYS = 14
LAST_USED_PRECISION = timedelta(minutes=1)  # the browser's last use is noted at most this often

_CLIENTS, _SETTINGS, _REQUESTS = (ClientIdentifier.__table__, OneClickSetting.__table__,
                                  OneClickRequest.__table__)
_USERS, _ADDRESSES, _CARDS = User.__table__, Address.__table__, PaymentMethod.__table__
_PRODUCTS, _UNITS, _STOCK = Product.__table__, ProductUnit.__table__, StockLevel.__table__
_ORDERS, _LINES = Order.__table__, OrderLine.__table__

_USER_FIELDS = ("id", "first_name", "last_name", "active", "role")
_ADDRESS_FIELDS = ("id", "user_id", "moniker", "full_name", "line1", "line2", "city", "region",
                   "postal_code", "country", "destination_key", "archived_at")
_CARD_FIELDS = ("id", "user_id", "brand", "last4", "exp_month", "exp_year", "archived_at")
_PRESS_FIELDS = ("client_id", "user_id", "product_id", "unit_code", "quantity")

_RECENT_REQUESTS = (select(_REQUESTS.c.id)
                    .where(_REQUESTS.c.client_id == _CLIENTS.c.id,
                           _REQUESTS.c.created_at > bindparam("since"))
                    .limit(bindparam("cap")).correlate(_CLIENTS).subquery())
_EARLIER = _REQUESTS.alias("earlier")
_PRESS_ON_CLIENT = (
    select(_SETTINGS.c.id.label("setting_id"), _SETTINGS.c.disabled_at, _SETTINGS.c.last_used_at,
           _CLIENTS.c.id.label("client_id"), _CLIENTS.c.revoked_at,
           *(_USERS.c[name].label(f"user_{name}") for name in _USER_FIELDS),
           *(_ADDRESSES.c[name].label(f"address_{name}") for name in _ADDRESS_FIELDS),
           *(_CARDS.c[name].label(f"card_{name}") for name in _CARD_FIELDS),
           select(func.count()).select_from(_RECENT_REQUESTS).scalar_subquery().label("recent"),
           _EARLIER.c.id.label("earlier_id"),
           *(_EARLIER.c[name].label(f"earlier_{name}") for name in _PRESS_FIELDS),
           _EARLIER.c.outcome.label("earlier_outcome"),
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
_OPEN_HERE = (  # open orders to combine into, with their line counts, locked
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
_INSERT_REQUEST = insert(_REQUESTS)


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
    card they stored for this browser, exactly once per
    ``idempotency_key``, on a Core connection whose transaction the caller commits. Returns
    the confirmation and whether it repeats an earlier answer.

    The line joins the person's open single-action order to the same address, with the same
    card and the same expected ship date while its window lasts; otherwise it opens
    a new order (one per ship date). Nothing is charged until the window closes.
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
                                 address=address, card=card, item=item,
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
                     cap: int) -> Row | None:
    """In one query: the person's setting on this browser with everything an order needs, how
    many requests the browser made in the last hour (counted up to ``cap``), the request that
    already used ``key`` if any, and the product in ``unit_code`` with its available stock.
    It also takes the person's row lock: one single-action order at a time per person."""
    if not token_hash:
        return None
    return connection.execute(_PRESS_ON_CLIENT, {
        "token_hash": token_hash, "person_id": person_id, "since": now - timedelta(hours=1),
        "cap": cap, "key": key, "product_id": product_id, "unit_code": unit_code}).first()


def _row_view(model: type, prefix: str, fields: tuple[str, ...], borrowed: tuple[str, ...]) -> type:
    """A plain class holding ``fields`` of a model, read from the press's row (where they are
    labelled ``prefix`` + name), with ``model``'s own definitions of the properties and
    methods ``borrowed``: a press needs a few properties of the person, address and card
    (short name, masked address, card label, expiry), not mapped objects."""
    labels = tuple(prefix + name for name in fields)

    def __init__(self, row: Row) -> None:
        values = row._mapping
        for name, label in zip(fields, labels):
            setattr(self, name, values[label])

    return type(f"{model.__name__}View", (), {"__slots__": fields, "__init__": __init__,
                                             **{name: model.__dict__[name] for name in borrowed}})


_PersonView = _row_view(User, "user_", _USER_FIELDS, ("short_name",))
_AddressView = _row_view(Address, "address_", _ADDRESS_FIELDS, ("masked",))
_CardView = _row_view(PaymentMethod, "card_", _CARD_FIELDS, ("label", "expiry", "expired_on"))


def _stored_details(press: Row) -> tuple[User, Address, PaymentMethod]:
    return _PersonView(press), _AddressView(press), _CardView(press)


@dataclass(frozen=True)
class _Item:
    line: PricedLine
    unit_label: str
    available: int


def _orderable(connection: Connection, press: Row, product_id: int, unit_code: str,
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


def _earlier_press(press: Row) -> tuple | None:
    """The request that used this press's key before (what it asked for and its answer), as
    read by the first query."""
    if press.earlier_id is None:
        return None
    return (*(press._mapping[f"earlier_{name}"] for name in _PRESS_FIELDS), press.earlier_outcome)


def _replay(earlier: tuple, request: tuple) -> Confirmation:
    """The first answer to a key, if this request is the same as the first (client, person,
    product, unit and quantity)."""
    *asked, outcome = earlier
    if tuple(asked) != request:
        raise IdempotencyKeyReused("This 1-Click button was already used for another order. "
                                   "Reload the page to order this item.")
    return Confirmation.from_json(outcome)


def _add_line(connection: Connection, *, client_id: int, user: User, address: Address,
              card: PaymentMethod, item: _Item, idempotency_key: str, rules: OneClickRules,
              now: datetime, today: date) -> Confirmation:
    """Write the line into the open order that ships the same day, or into a new order, and
    record the press with the answer it gets."""
    line = item.line
    ship_date, basis = expected_ship_date(connection, product_id=line.product_id,
                                          available=item.available, eaches=line.eaches,
                                          today=today, backorder_days=rules.backorder_days)
    open_here = connection.execute(_OPEN_HERE, {"user_id": user.id, "address_id": address.id,
                                                "card_id": card.id, "now": now}).all()
    into = next((order for order in open_here if order.expected_ship_date == ship_date), None)
    if into is not None:
        after = totals_with_line(subtotal=into.subtotal, pv_total=into.pv_total,
                                 bv_total=into.bv_total, line=line, shipping=rules.shipping)
        added = add_line_to_open_order(connection, order_id=into.id, totals_after=after,
                                       line=line, now=now)
        combine_until, lines_in_order = into.combine_until, into.lines + 1
    else:
        after = totals([line], rules.shipping)
        combine_until, lines_in_order = now + rules.combine_window, 1
        added = insert_open_order(connection, user_id=user.id, source=OrderSource.ONECLICK,
                                  line=line, address=address, card=card, summary=after,
                                  placed_at=now, combine_until=combine_until,
                                  expected_ship_date=ship_date)
    confirmation = Confirmation(
        order_id=added.order_id, order_number=order_number(added.order_id),
        person=user.short_name, product_id=line.product_id, product_name=line.name,
        unit_label=item.unit_label, quantity=line.quantity, eaches=line.eaches,
        line_total=str(line.line_total), order_total=str(after.total),
        lines_in_order=lines_in_order, combined=into is not None,
        ship_moniker=address.moniker, ship_masked=address.masked, card_label=card.label,
        expected_ship_date=ship_date.isoformat(), ships_from_stock=basis == SHIPS_FROM_STOCK,
        combine_until=combine_until.isoformat(),
        other_open_orders=[[order_number(other.id), other.expected_ship_date.isoformat()]
                           for other in open_here if other.expected_ship_date != ship_date],
        ship_date_basis=basis)
    connection.execute(_INSERT_REQUEST, {
        "idempotency_key": idempotency_key, "client_id": client_id, "user_id": user.id,
        "product_id": line.product_id, "unit_code": line.unit_code, "quantity": line.quantity,
        "created_at": now, "order_id": added.order_id, "order_line_id": added.line_id,
        "outcome": confirmation.to_json()})
    return confirmation


def _expire(session: Session, order_id: int) -> None:
    """Objects the session already holds for rows a press may have written (the order, the
    1-Click settings and identifiers, whose last use it notes) read them again when used."""
    for held in list(session.identity_map.values()):
        if isinstance(held, (OneClickSetting, ClientIdentifier)) or (
                isinstance(held, Order) and held.id == order_id):
            session.expire(held)
