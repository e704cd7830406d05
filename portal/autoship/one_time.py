"""One-time lines: an item added to a standing order's next shipment only ("this time only").

The rules, in words:

* A press adds the item to one of the person's standing orders that is active and still open
  for changes (the edit cutoff of ``profiles.check_open_for_changes``): the only one, or the
  one the person chose when several are open (``shipment_choices``, soonest first).
* The line belongs to that standing order's next shipment (``run_date`` records which date it
  was for) and goes into its next order, together with the recurring items, priced by the
  standing order's policy: the engine's chunk statement puts it there set-based, "Ship now"
  takes it too. That order settles it: shipped, or left out when it could not ship (no longer
  sold, or out of stock when the standing order leaves such items out). It never recurs. A
  cycle that orders nothing (every item unavailable, below the minimum PV) leaves it waiting
  for the next order.
* Until the cutoff the member can remove it; history records both the addition and the removal.
* Exactly once: every rendered button carries an idempotency key (1-Click's pattern), unique
  on the line. A repeat of the key (double press, retried request, a second tab) answers with
  the line it added; a different request with a used key is refused. Presses on one standing
  order take turns on its row lock, and the unique key settles any other race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.models import User
from portal.autoship.models import (AutoshipOneTimeLine, AutoshipProfile, OneTimeStatus, PricePolicy,
                                    ProfileStatus)
from portal.autoship.profiles import (AutoshipError, AutoshipRules, accepts_changes, priced_line,
                                      check_open_for_changes, lock_profile, owned_profile,
                                      priced_items, record)
from portal.catalog.models import Product
from portal.catalog.services import active_product, sellable_unit
from portal.clock import utcnow
from portal.errors import NotFound
from portal.oneclick.rules import KEY_PATTERN
from portal.orders.pricing import PricedLine, ShippingRule, Totals, totals

MAX_ONE_TIME_LINES = 20  # per shipment
BUTTON_NOT_VALID = "This button is not valid. Reload the page and try again."
NOTHING_OPEN = ("None of your standing orders is open for changes now, so there is no next "
                "shipment to add to.")


class KeyReused(AutoshipError):
    """The button's key already added something else (or someone else's line)."""

    status = 409


@dataclass(frozen=True)
class NextShipment:
    """A standing order's next shipment as it stands: recurring and one-time lines, priced by
    its policy, with the rule book's shipping fee and what is missing for free shipping."""

    profile: AutoshipProfile
    totals: Totals
    short_of_free: Decimal
    one_time: list[AutoshipOneTimeLine]


@dataclass(frozen=True)
class Added:
    line: AutoshipOneTimeLine
    shipment: NextShipment
    repeat: bool  # the key had already added this line: the same answer again


@dataclass(frozen=True)
class ShipmentChoice:
    """Several standing orders are open: the person chooses which shipment (soonest first)."""

    product: Product
    profiles: list[AutoshipProfile]


def shipment_choices(session: Session, user: User, today: date,
                     rules: AutoshipRules) -> list[AutoshipProfile]:
    """The person's active standing orders still open for changes, soonest shipment first:
    where "Add to my next autoship" may put an item."""
    found = session.scalars(select(AutoshipProfile).where(
        AutoshipProfile.user_id == user.id, AutoshipProfile.status == ProfileStatus.ACTIVE)
        .order_by(AutoshipProfile.next_run_date, AutoshipProfile.id))
    return [p for p in found if accepts_changes(p, today, rules)]


def priced_one_time(profile: AutoshipProfile) -> tuple[list[PricedLine], list[str]]:
    """The pending one-time lines priced as the engine prices them (the profile's policy), and
    what cannot ship as it stands."""
    lines, problems = [], []
    for extra in profile.one_time_lines:
        product, unit = extra.product, extra.product.unit(extra.unit_code)
        if not product.active or unit is None:
            problems.append(f"{product.name} ({extra.unit_code}), added for this time only, is no "
                            "longer sold: it will be left out.")
            continue
        lines.append(priced_line(profile, extra, unit))
    return lines, problems


def next_shipment(profile: AutoshipProfile, shipping: ShippingRule) -> NextShipment:
    """The profile's next shipment: its items and its one-time lines, priced."""
    lines, _ = priced_items(profile)
    extras, _ = priced_one_time(profile)
    shipment = totals(lines + extras, shipping)
    return NextShipment(profile=profile, totals=shipment,
                        short_of_free=shipping.short_of_free(shipment.subtotal),
                        one_time=list(profile.one_time_lines))


def _line_by_key(session: Session, key: str) -> AutoshipOneTimeLine | None:
    return session.scalar(select(AutoshipOneTimeLine).where(AutoshipOneTimeLine.idempotency_key == key))


def _replay(session: Session, earlier: AutoshipOneTimeLine, *, user: User, product_id: int,
            unit_code: str, quantity: int, profile_id: int | None, shipping: ShippingRule) -> Added:
    """The first answer to a key, if this request asks for what the first one did."""
    same = (earlier.added_by == user.id and earlier.product_id == product_id
            and earlier.unit_code == unit_code and earlier.quantity == quantity
            and profile_id in (None, earlier.profile_id))
    if not same:
        raise KeyReused("This button was already used to add another item. Reload the page to add this one.")
    profile = session.get(AutoshipProfile, earlier.profile_id)
    session.refresh(profile, ["one_time_lines"])
    return Added(line=earlier, shipment=next_shipment(profile, shipping), repeat=True)


def add_to_next_shipment(session: Session, *, user: User, product_id: int, unit_code: str,
                         quantity: int, idempotency_key: str, today: date, rules: AutoshipRules,
                         shipping: ShippingRule, profile_id: int | None = None) -> Added | ShipmentChoice:
    """One press of "Add to my next autoship": ``quantity`` of the product in ``unit_code`` as a
    one-time line of the standing order ``profile_id`` (None: the person's only open one), once
    per ``idempotency_key``. Returns what was added with the shipment's new totals, or the
    choice to make when several standing orders are open and none was named. Refuses (an
    AutoshipError) a standing order closed for changes, an item not sold, a used key."""
    if not isinstance(idempotency_key, str) or not KEY_PATTERN.match(idempotency_key):
        raise AutoshipError(BUTTON_NOT_VALID)
    asked = dict(user=user, product_id=product_id, unit_code=unit_code, quantity=quantity,
                 profile_id=profile_id, shipping=shipping)
    earlier = _line_by_key(session, idempotency_key)
    if earlier is not None:
        return _replay(session, earlier, **asked)
    product = active_product(session, product_id)
    unit = sellable_unit(product, unit_code, quantity, rules.max_quantity)
    if profile_id is None:
        choices = shipment_choices(session, user, today, rules)
        if not choices:
            raise AutoshipError(NOTHING_OPEN)
        if len(choices) > 1:
            return ShipmentChoice(product, choices)
        profile = choices[0]
    else:
        profile = owned_profile(session, user, profile_id)
    lock_profile(session, profile)
    session.expire(profile, ["one_time_lines"])  # as committed by whoever held the lock before
    # A twin press of this key held the lock until it committed: its line is visible now.
    earlier = _line_by_key(session, idempotency_key)
    if earlier is not None:
        return _replay(session, earlier, **asked)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("This standing order has no shipment coming: resume or reactivate it first.")
    check_open_for_changes(profile, today, rules)
    if len(profile.one_time_lines) >= MAX_ONE_TIME_LINES:
        raise AutoshipError(f"A shipment takes at most {MAX_ONE_TIME_LINES} one-time items.")
    line = AutoshipOneTimeLine(profile_id=profile.id, product_id=product.id, unit_code=unit.code,
                               quantity=quantity, run_date=profile.next_run_date,
                               idempotency_key=idempotency_key, added_by=user.id)
    if profile.price_policy == PricePolicy.LOCKED:
        line.locked_price, line.locked_pv, line.locked_bv = unit.price, unit.pv, unit.bv
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except IntegrityError:
        # The key was committed meanwhile by a request this profile's lock did not order
        # (the same key sent for another standing order): that request's answer decides.
        earlier = _line_by_key(session, idempotency_key)
        if earlier is None:
            raise
        return _replay(session, earlier, **asked)
    record(session, profile, user, "one-time item added",
           f"{quantity} × {product.sku} ({unit.code}) for the shipment of "
           f"{formatting.day(profile.next_run_date, 'day_of_month')} only")
    session.refresh(profile, ["one_time_lines"])
    return Added(line=line, shipment=next_shipment(profile, shipping), repeat=False)


def remove_one_time_line(session: Session, *, user: User, profile: AutoshipProfile, line_id: int,
                         today: date, rules: AutoshipRules) -> AutoshipOneTimeLine:
    """Take a one-time line out of the next shipment, until the cutoff."""
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    line = session.scalar(select(AutoshipOneTimeLine).where(
        AutoshipOneTimeLine.id == line_id, AutoshipOneTimeLine.profile_id == profile.id,
        AutoshipOneTimeLine.status == OneTimeStatus.PENDING))  # the profile's lock orders removals
    if line is None:
        raise NotFound("That item is no longer in this shipment.")
    line.status, line.settled_at = OneTimeStatus.REMOVED, utcnow()
    session.flush()
    record(session, profile, user, "one-time item removed",
           f"{line.quantity} × {line.product.sku} ({line.unit_code})")
    session.expire(profile, ["one_time_lines"])
    return line


def settle_with_order(session: Session, profile: AutoshipProfile, order_id: int) -> None:
    """The pending one-time lines went with ``order_id`` (a Ship now): those that could be
    priced shipped, the rest were left out. Either way they never ship again."""
    now = utcnow()
    for line in list(profile.one_time_lines):
        unit = line.product.unit(line.unit_code)
        sold = line.product.active and unit is not None and unit.active
        line.status = OneTimeStatus.SHIPPED if sold else OneTimeStatus.LEFT_OUT
        line.order_id, line.settled_at = order_id, now
    session.flush()
    session.expire(profile, ["one_time_lines"])

