"""New standing orders: from scratch, from the cart ("Make this my autoship"), from a product
page ("Subscribe"), and the person's saved default schedule for the quick ones."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.models import User
from portal.addresses.services import address_book, owned_address
from portal.autoship.items import add_item, add_items, new_item
from portal.autoship.models import (AutoshipPreference, AutoshipProfile, OutOfStockPolicy,
                                    PricePolicy, ProfileStatus, Regularity, SHIPPING_METHODS)
from portal.autoship.profiles import (AutoshipError, AutoshipRules, check_first_date, checked_name,
                                      first_open_date, owned_profile, record)
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.autoship.schedule_changes import accepted_schedule
from portal.autoship.volume import refresh_cycle_pv
from portal.cart.services import cart_lines
from portal.catalog.services import active_product
from portal.payments.services import usable_card, wallet

MAX_PROFILES_PER_PERSON = 20


def create_profile(session: Session, *, user: User, actor: User | None = None,
                   name: str, rule: Recurrence, regularity: str,
                   first_date: date, address_id: int, card_id: int,
                   items: list[tuple[int, str, int]], today: date, rules: AutoshipRules,
                   price_policy: str = PricePolicy.RUN_TIME, shipping_method: str = "standard",
                   out_of_stock_policy: str = OutOfStockPolicy.BACKORDER) -> AutoshipProfile:
    """A new active profile whose first run is the first date of ``rule`` on or after
    ``first_date``, which must be open for changes (``first_open_date``) so that the member
    can still change what it ships. ``items`` are (product id, unit code, quantity)."""
    if user.is_admin:
        raise AutoshipError("Admins do not hold standing orders.")
    existing = session.scalar(select(AutoshipProfile.id).where(
        AutoshipProfile.user_id == user.id, AutoshipProfile.status != ProfileStatus.CANCELLED)
        .offset(MAX_PROFILES_PER_PERSON - 1).limit(1))
    if existing is not None:
        raise AutoshipError(f"You can keep at most {MAX_PROFILES_PER_PERSON} standing orders.")
    if regularity not in (Regularity.CALENDAR, Regularity.ROLLING):
        raise AutoshipError("Choose a calendar or a rolling schedule.", "regularity")
    if price_policy not in (PricePolicy.RUN_TIME, PricePolicy.LOCKED):
        raise AutoshipError("Choose how the price is set.", "price_policy")
    if shipping_method not in SHIPPING_METHODS:
        raise AutoshipError("Choose a shipping method.", "shipping_method")
    if out_of_stock_policy not in (OutOfStockPolicy.BACKORDER, OutOfStockPolicy.SKIP_ITEM):
        raise AutoshipError("Choose what happens when an item is out of stock.")
    if not items:
        raise AutoshipError("A standing order needs at least one item.")
    _check_open_first_date(first_date, today, rules)
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    next_run = accepted_schedule(rule, first_date, regularity)

    profile = AutoshipProfile(user_id=user.id, name=checked_name(name), status=ProfileStatus.ACTIVE,
                              rrule=str(rule), anchor_date=first_date, regularity=regularity,
                              next_run_date=next_run, address_id=address.id,
                              payment_method_id=card.id, shipping_method=shipping_method,
                              price_policy=price_policy, out_of_stock_policy=out_of_stock_policy)
    session.add(profile)
    for product_id, unit_code, quantity in items:
        new_item(session, profile, product_id, unit_code, quantity, rules)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "created",
           f"{rule.describe(first_date)}, first on {next_run.isoformat()}; "
           + ", ".join(f"{i.quantity} × {i.product.sku} ({i.unit_code})" for i in profile.items))
    session.flush()
    return profile


def _check_open_first_date(first_date: date, today: date, rules: AutoshipRules) -> None:
    """Refuse, beside the field, a first date closed for changes (or past the horizon)."""
    opens = first_open_date(today, rules)
    if first_date < opens:
        closing = (f"Changes close {rules.cutoff_days} days before each shipment" if rules.cutoff_days
                   else "Today's shipments are already made")
        earliest = formatting.day(opens, "long_short")
        raise AutoshipError(("That date is in the past. " if first_date < today else "")
                            + f"{closing}: the first one can be on {earliest} at the earliest.",
                            "first_date")
    check_first_date(first_date, today)


def default_rule(session: Session, user: User) -> tuple[Recurrence, str]:
    """The person's saved default for new profiles, or monthly on a calendar."""
    preference = session.get(AutoshipPreference, user.id)
    if preference is None:
        return Recurrence.every(1, "months"), Regularity.CALENDAR
    return Recurrence.parse(preference.rrule), preference.regularity


def save_default_rule(session: Session, *, user: User, rule: Recurrence, regularity: str) -> None:
    preference = session.get(AutoshipPreference, user.id) or AutoshipPreference(user_id=user.id)
    preference.rrule, preference.regularity = str(rule), regularity
    session.add(preference)
    session.flush()


def _defaults_for_new(session: Session, user: User, today: date):
    addresses = address_book(session, user)
    cards = [c for c in wallet(session, user) if not c.expired_on(today)]
    if not addresses:
        raise AutoshipError("Add a shipping address first: a standing order ships to it.")
    if not cards:
        raise AutoshipError("Add a card that has not expired first: a standing order is paid with it.")
    return addresses[0], cards[0]


def _first_date_by_default(rule: Recurrence, regularity: str, today: date, rules: AutoshipRules) -> date:
    """Where a standing order made in one action starts: one interval from today, and never on
    a date already closed for changes (a short interval starts on the first open date)."""
    try:
        schedule = Schedule(rule, today, regularity)
        first = schedule.following(today)
        if first is not None and first < first_open_date(today, rules):
            first = schedule.first_on_or_after(first_open_date(today, rules))
    except UnplannableSchedule:
        first = None
    if first is None:
        raise AutoshipError("Your saved default schedule has no date after today: "
                            "create the standing order with a schedule of its own.")
    return first


CART_PROFILE_NAME = "Autoship from my cart"


def _unused_name(session: Session, user: User, name: str) -> str:
    """``name``, or "``name`` 2", "3", ...: the first the person's standing orders do not use."""
    taken = set(session.scalars(select(AutoshipProfile.name).where(
        AutoshipProfile.user_id == user.id, AutoshipProfile.status != ProfileStatus.CANCELLED)))
    return next(candidate for candidate in
                (name if n == 1 else f"{name} {n}" for n in range(1, len(taken) + 2))
                if candidate not in taken)


def profile_from_cart(session: Session, *, user: User, actor: User | None = None,
                      today: date, rules: AutoshipRules,
                      profile_id: int | None = None) -> AutoshipProfile:
    """"Make this my autoship": the cart becomes a new profile (``profile_id`` None) or is
    added to the person's profile ``profile_id``, in one action, its lines merged into the
    items of the same product and unit. The cart is kept, so the person can still check it out
    today."""
    lines = cart_lines(session, user)
    if not lines:
        raise AutoshipError("Your cart is empty: add what you want delivered regularly first.")
    wanted = [(line.product_id, line.unit_code, line.quantity) for line in lines]
    if profile_id is not None:
        profile = owned_profile(session, user, profile_id)
        add_items(session, user=user, actor=actor,
                  profile=profile, lines=wanted, today=today, rules=rules)
        return profile
    address, card = _defaults_for_new(session, user, today)
    rule, regularity = default_rule(session, user)
    first = _first_date_by_default(rule, regularity, today, rules)
    return create_profile(session, user=user, actor=actor,
                          name=_unused_name(session, user, CART_PROFILE_NAME),
                          rule=rule, regularity=regularity, first_date=first,
                          address_id=address.id, card_id=card.id, today=today, rules=rules,
                          items=wanted)


def subscribe(session: Session, *, user: User, actor: User | None = None,
              product_id: int, unit_code: str, quantity: int,
              profile_id: int | None, today: date, rules: AutoshipRules) -> AutoshipProfile:
    """A product page's "Subscribe": into an existing profile, or a new one for that product."""
    if profile_id is None:
        product = active_product(session, product_id)
        address, card = _defaults_for_new(session, user, today)
        rule, regularity = default_rule(session, user)
        first = _first_date_by_default(rule, regularity, today, rules)
        return create_profile(session, user=user, actor=actor,
                              name=f"{product.name[:60]} autoship", rule=rule,
                              regularity=regularity, first_date=first, address_id=address.id,
                              card_id=card.id, today=today, rules=rules,
                              items=[(product.id, unit_code, quantity)])
    profile = owned_profile(session, user, profile_id)
    add_item(session, user=user, actor=actor,
             profile=profile, product_id=product_id, unit_code=unit_code,
             quantity=quantity, today=today, rules=rules)
    return profile
