"""Standing-order profiles: creating them (from scratch, a cart or a product page) and every
change a member makes. Each change is checked against the edit cutoff and written to the
profile's audit history."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.services import owned_address
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipPreference,
                                    AutoshipProfile, AutoshipSkip, CalendarFeed, OutOfStockPolicy,
                                    PricePolicy, ProfileStatus, Regularity, SHIPPING_METHODS)
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule, check_schedule
from portal.autoship.volume import refresh_cycle_pv
from portal.cart.services import cart_lines
from portal.catalog.services import active_product, sellable_unit
from portal.errors import DomainError, NotFound
from portal.clock import utcnow
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import PricedLine, ShippingRule
from portal.orders.rules import unit_amount
from portal.orders.services import build_order, charge_order
from portal.payments.gateway import PaymentGateway
from portal.payments.services import usable_card

MAX_PROFILES_PER_PERSON = 20
MAX_ITEMS_PER_PROFILE = 50
MAX_NAME_LENGTH = 80
HORIZON_DAYS = 366  # how far ahead a first or moved date may be
NEEDS_NEW_SCHEDULE = ("No date of this standing order's schedule can be planned, so it was set "
                      "aside. Choose a new schedule to make it active again, or cancel it.")


class AutoshipError(DomainError):
    pass


class AlreadyDone(AutoshipError):
    """The change was just made, by another tab or device of the person."""

    status = 409


@dataclass(frozen=True)
class AutoshipRules:
    cutoff_days: int = 2          # no changes that affect a run this close to it
    max_quantity: int = 999
    min_pv: Decimal = Decimal("0")

    @classmethod
    def from_config(cls, config) -> "AutoshipRules":
        return cls(cutoff_days=int(config["AUTOSHIP_EDIT_CUTOFF_DAYS"]),
                   max_quantity=int(config["MAX_LINE_QUANTITY"]),
                   min_pv=Decimal(str(config["AUTOSHIP_MIN_PV"])))


# ------------------------------------------------------------------ reading helpers

def lock_profile(session: Session, profile: AutoshipProfile) -> None:
    """Hold the profile's row until this transaction ends, and read it again with its items
    and skips: a concurrent change of the same profile (another tab, another device) waits
    here for this one, then checks against what this one committed, as if it came after.

    Every change below starts with it (SELECT ... FOR UPDATE)."""
    session.flush()  # what the caller changed already is kept, not read over
    session.refresh(profile, with_for_update=True)
    # Items already in the session get their committed quantities; the collections reload.
    session.execute(select(AutoshipItem).where(AutoshipItem.profile_id == profile.id)
                    .execution_options(populate_existing=True))
    session.expire(profile, ["items", "skips"])


def owned_profile(session: Session, user: User, profile_id: int) -> AutoshipProfile:
    profile = session.get(AutoshipProfile, profile_id)
    if profile is None or profile.user_id != user.id:
        raise NotFound("We could not find that standing order in your account.")
    return profile


def schedule_of(profile: AutoshipProfile) -> Schedule:
    return Schedule.of(profile.rrule, profile.anchor_date, profile.regularity,
                       (skip.skip_date for skip in profile.skips))


def describe_rule(profile: AutoshipProfile) -> str:
    """The profile's rule in words; the stored text itself if it no longer parses."""
    try:
        return Recurrence.parse(profile.rrule).describe(profile.anchor_date)
    except ValueError:
        return profile.rrule


@contextmanager
def planning(profile: AutoshipProfile) -> Iterator[None]:
    """Schedule arithmetic on a stored profile: a schedule it cannot plan is the member's to
    fix (a new schedule, or cancel), told as such, never a 500."""
    if profile.status == ProfileStatus.UNPLANNABLE:
        raise AutoshipError(NEEDS_NEW_SCHEDULE)
    try:
        yield
    except UnplannableSchedule as error:
        raise AutoshipError(f"This schedule cannot be planned any more ({error}). "
                            "Choose a new schedule, or cancel the standing order.") from error


def days_until_cutoff(profile: AutoshipProfile, today: date, rules: AutoshipRules) -> int | None:
    """Days left to change the next run (0 or less: locked); None when nothing is scheduled."""
    if profile.next_run_date is None or profile.status != ProfileStatus.ACTIVE:
        return None
    return (profile.next_run_date - today).days - rules.cutoff_days


def priced_items(profile: AutoshipProfile) -> tuple[list[PricedLine], list[str]]:
    """The cycle priced by the profile's policy, and what cannot be shipped as it stands."""
    lines, problems = [], []
    for item in profile.items:
        product, unit = item.product, item.product.unit(item.unit_code)
        if not product.active or unit is None:
            problems.append(f"{product.name} ({item.unit_code}) is no longer sold; "
                            "it will be left out until you replace it.")
            continue
        policy = profile.price_policy
        lines.append(PricedLine(
            product_id=product.id, sku=product.sku, name=product.name, unit_code=unit.code,
            eaches_per_unit=unit.eaches_per_unit, quantity=item.quantity,
            unit_price=unit_amount(policy, item.locked_price, unit.price),
            unit_pv=unit_amount(policy, item.locked_pv, unit.pv),
            unit_bv=unit_amount(policy, item.locked_bv, unit.bv)))
    return lines, problems


# ------------------------------------------------------------------ writing helpers

def record(session: Session, profile: AutoshipProfile, actor: User | None, action: str,
           details: str = "") -> None:
    session.add(AutoshipEvent(profile_id=profile.id, actor_id=actor.id if actor else None,
                              action=action, details=details[:2000]))


def _check_open_for_changes(profile: AutoshipProfile, today: date, rules: AutoshipRules) -> None:
    if profile.status == ProfileStatus.CANCELLED:
        raise AutoshipError("This standing order is cancelled. Reactivate it to change it.")
    if profile.status == ProfileStatus.UNPLANNABLE:
        return  # the engine set it aside: no shipment of it is being prepared
    left = days_until_cutoff(profile, today, rules)
    if left is not None and left < 0:
        raise AutoshipError(
            f"Your next shipment on {profile.next_run_date:%B %-d} is being prepared: changes "
            f"that affect it are closed {rules.cutoff_days} days before. You can skip a later "
            "date now, or change this one after it ships.")


def _check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise AutoshipError("Give the standing order a name, like “Monthly essentials”.", "name")
    if len(name) > MAX_NAME_LENGTH:
        raise AutoshipError(f"Use at most {MAX_NAME_LENGTH} characters for the name.", "name")
    return name


def _check_first_date(first: date, today: date) -> None:
    if first < today:
        raise AutoshipError("That date is in the past. Choose today or a later date.", "first_date")
    if first > today + timedelta(days=HORIZON_DAYS):
        raise AutoshipError("Choose a date within the next twelve months.", "first_date")


def _lock_prices(item: AutoshipItem) -> None:
    unit = item.product.unit(item.unit_code)
    item.locked_price, item.locked_pv, item.locked_bv = unit.price, unit.pv, unit.bv


def _new_item(session: Session, profile: AutoshipProfile, product_id: int, unit_code: str,
              quantity: int, rules: AutoshipRules) -> AutoshipItem:
    product = active_product(session, product_id)
    sellable_unit(product, unit_code, quantity, rules.max_quantity)
    item = next((i for i in profile.items if i.product_id == product.id and i.unit_code == unit_code),
                None)
    if item is not None:
        sellable_unit(product, unit_code, item.quantity + quantity, rules.max_quantity)
        item.quantity += quantity
        return item
    if len(profile.items) >= MAX_ITEMS_PER_PROFILE:
        raise AutoshipError(f"A standing order holds at most {MAX_ITEMS_PER_PROFILE} items.")
    item = AutoshipItem(product=product, product_id=product.id, unit_code=unit_code, quantity=quantity)
    if profile.price_policy == PricePolicy.LOCKED:
        _lock_prices(item)
    profile.items.append(item)
    return item


# ------------------------------------------------------------------ creating

def create_profile(session: Session, *, user: User, name: str, rule: Recurrence, regularity: str,
                   first_date: date, address_id: int, card_id: int,
                   items: list[tuple[int, str, int]], today: date, rules: AutoshipRules,
                   price_policy: str = PricePolicy.RUN_TIME, shipping_method: str = "standard",
                   out_of_stock_policy: str = OutOfStockPolicy.BACKORDER) -> AutoshipProfile:
    """A new active profile whose first run is the first date of ``rule`` on or after
    ``first_date``. ``items`` are (product id, unit code, quantity)."""
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
    _check_first_date(first_date, today)
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    next_run = accepted_schedule(rule, first_date, regularity)

    profile = AutoshipProfile(user_id=user.id, name=_check_name(name), status=ProfileStatus.ACTIVE,
                              rrule=str(rule), anchor_date=first_date, regularity=regularity,
                              next_run_date=next_run, address_id=address.id,
                              payment_method_id=card.id, shipping_method=shipping_method,
                              price_policy=price_policy, out_of_stock_policy=out_of_stock_policy)
    session.add(profile)
    for product_id, unit_code, quantity in items:
        _new_item(session, profile, product_id, unit_code, quantity, rules)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "created",
           f"{rule.describe(first_date)}, first on {next_run.isoformat()}; "
           + ", ".join(f"{i.quantity} × {i.product.sku} ({i.unit_code})" for i in profile.items))
    session.flush()
    return profile


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
    from portal.addresses.services import address_book
    from portal.payments.services import wallet

    addresses = address_book(session, user)
    cards = [c for c in wallet(session, user) if not c.expired_on(today)]
    if not addresses:
        raise AutoshipError("Add a shipping address first: a standing order ships to it.")
    if not cards:
        raise AutoshipError("Add a card that has not expired first: a standing order is paid with it.")
    return addresses[0], cards[0]


def _first_after_today(rule: Recurrence, regularity: str, today: date) -> date:
    try:
        first = Schedule(rule, today, regularity).following(today)
    except UnplannableSchedule:
        first = None
    if first is None:
        raise AutoshipError("Your saved default schedule has no date after today: "
                            "create the standing order with a schedule of its own.")
    return first


def profile_from_cart(session: Session, *, user: User, today: date,
                      rules: AutoshipRules) -> AutoshipProfile:
    """"Make this my autoship": the cart becomes a new profile, in one action. The cart is kept,
    so the person can still check it out today."""
    lines = cart_lines(session, user)
    if not lines:
        raise AutoshipError("Your cart is empty: add what you want delivered regularly first.")
    address, card = _defaults_for_new(session, user, today)
    rule, regularity = default_rule(session, user)
    first = _first_after_today(rule, regularity, today)
    return create_profile(session, user=user, name="Autoship from my cart", rule=rule,
                          regularity=regularity, first_date=first, address_id=address.id,
                          card_id=card.id, today=today, rules=rules,
                          items=[(l.product_id, l.unit_code, l.quantity) for l in lines])


def subscribe(session: Session, *, user: User, product_id: int, unit_code: str, quantity: int,
              profile_id: int | None, today: date, rules: AutoshipRules) -> AutoshipProfile:
    """A product page's "Subscribe": into an existing profile, or a new one for that product."""
    if profile_id is None:
        product = active_product(session, product_id)
        address, card = _defaults_for_new(session, user, today)
        rule, regularity = default_rule(session, user)
        first = _first_after_today(rule, regularity, today)
        return create_profile(session, user=user, name=f"{product.name[:60]} autoship", rule=rule,
                              regularity=regularity, first_date=first, address_id=address.id,
                              card_id=card.id, today=today, rules=rules,
                              items=[(product.id, unit_code, quantity)])
    profile = owned_profile(session, user, profile_id)
    add_item(session, user=user, profile=profile, product_id=product_id, unit_code=unit_code,
             quantity=quantity, today=today, rules=rules)
    return profile


# ------------------------------------------------------------------ items

def add_item(session: Session, *, user: User, profile: AutoshipProfile, product_id: int,
             unit_code: str, quantity: int, today: date, rules: AutoshipRules) -> AutoshipItem:
    lock_profile(session, profile)
    _check_open_for_changes(profile, today, rules)
    item = _new_item(session, profile, product_id, unit_code, quantity, rules)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "item added", f"{quantity} × {item.product.sku} ({unit_code})")
    return item


def _owned_item(profile: AutoshipProfile, item_id: int) -> AutoshipItem:
    item = next((i for i in profile.items if i.id == item_id), None)
    if item is None:
        raise NotFound("That item is not in this standing order.")
    return item


def change_item(session: Session, *, user: User, profile: AutoshipProfile, item_id: int,
                unit_code: str, quantity: int, today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    _check_open_for_changes(profile, today, rules)
    item = _owned_item(profile, item_id)
    sellable_unit(item.product, unit_code, quantity, rules.max_quantity)
    before = f"{item.quantity} × {item.unit_code}"
    twin = next((i for i in profile.items if i is not item and i.product_id == item.product_id
                 and i.unit_code == unit_code), None)
    if twin is not None:
        sellable_unit(item.product, unit_code, twin.quantity + quantity, rules.max_quantity)
        twin.quantity += quantity
        profile.items.remove(item)
    else:
        item.unit_code, item.quantity = unit_code, quantity
        if profile.price_policy == PricePolicy.LOCKED:
            _lock_prices(item)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "item changed",
           f"{item.product.sku}: {before} → {quantity} × {unit_code}")


def remove_item(session: Session, *, user: User, profile: AutoshipProfile, item_id: int,
                today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    _check_open_for_changes(profile, today, rules)
    item = _owned_item(profile, item_id)
    if len(profile.items) == 1:
        raise AutoshipError("A standing order needs at least one item. Cancel it instead, "
                            "or add another item first.")
    profile.items.remove(item)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "item removed", f"{item.product.sku} ({item.unit_code})")


# ------------------------------------------------------------------ schedule

def accepted_schedule(rule: Recurrence, first_date: date, regularity: str,
                      skips: frozenset[date] = frozenset()) -> date:
    """The first date of a schedule a person chose; refused beside the rule if the engine could
    not plan it (see ``check_schedule``, the one check for every place that accepts one)."""
    try:
        return check_schedule(rule, first_date, regularity, skips)
    except UnplannableSchedule as error:
        raise AutoshipError(str(error), "rrule") from error


def preview(rule: Recurrence, regularity: str, first_date: date, count: int = 6) -> list[date]:
    """The first ``count`` dates; AutoshipError for a schedule that would not be accepted."""
    schedule = Schedule(rule, first_date, regularity)
    return schedule.upcoming(accepted_schedule(rule, first_date, regularity), count)


def change_schedule(session: Session, *, user: User, profile: AutoshipProfile, rule: Recurrence,
                    regularity: str, first_date: date, today: date, rules: AutoshipRules) -> None:
    """A new rule, anchored at ``first_date``: the next run is its first date from then on.
    Skips stay: they are keyed by date and still apply where the new rule meets them."""
    lock_profile(session, profile)
    _check_open_for_changes(profile, today, rules)
    if regularity not in (Regularity.CALENDAR, Regularity.ROLLING):
        raise AutoshipError("Choose a calendar or a rolling schedule.", "regularity")
    _check_first_date(first_date, today)
    next_run = accepted_schedule(rule, first_date, regularity,
                                 frozenset(s.skip_date for s in profile.skips))
    before = f"{describe_rule(profile)} ({profile.regularity})"
    profile.rrule, profile.regularity, profile.anchor_date = str(rule), regularity, first_date
    set_aside = profile.status == ProfileStatus.UNPLANNABLE
    if profile.status in (ProfileStatus.ACTIVE, ProfileStatus.UNPLANNABLE):
        # A profile the engine set aside runs again once it has a schedule it can plan.
        profile.status, profile.set_aside_reason = ProfileStatus.ACTIVE, None
        profile.next_run_date = next_run
    session.flush()
    record(session, profile, user, "schedule changed",
           f"{before} → {rule.describe(first_date)} ({regularity}), next {next_run.isoformat()}"
           + ("; active again" if set_aside else ""))


def change_next_date(session: Session, *, user: User, profile: AutoshipProfile, new_date: date,
                     move_anchor: bool, today: date, rules: AutoshipRules) -> None:
    """Move the next run to ``new_date``: once (the pattern continues afterwards), or for good
    (the series is re-anchored there)."""
    lock_profile(session, profile)
    _check_open_for_changes(profile, today, rules)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Resume the standing order before choosing its next date.")
    if new_date <= today:
        raise AutoshipError("Choose a date after today. To ship today, use “Ship now”.", "new_date")
    _check_first_date(new_date, today)
    if any(skip.skip_date == new_date for skip in profile.skips):
        raise AutoshipError("You skipped that date. Unskip it first, or choose another.", "new_date")
    before = profile.next_run_date
    if move_anchor:
        profile.anchor_date = new_date
        with planning(profile):
            next_run = schedule_of(profile).first_on_or_after(new_date)
        if next_run is None:
            raise AutoshipError("The schedule has no date from then on.", "new_date")
        profile.next_run_date = next_run
    else:
        profile.next_run_date = new_date
    session.flush()
    record(session, profile, user, "next date moved" + (" for good" if move_anchor else " once"),
           f"{before} → {profile.next_run_date}")


def skip_date(session: Session, *, user: User, profile: AutoshipProfile, day: date, today: date,
              rules: AutoshipRules) -> None:
    """Skip one upcoming occurrence, kept as an exception keyed by its date."""
    lock_profile(session, profile)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Only an active standing order has dates to skip.")
    if any(skip.skip_date == day for skip in profile.skips):
        raise AlreadyDone(f"{day:%A, %B %-d} is already skipped.", "day")
    with planning(profile):
        upcoming = schedule_of(profile).upcoming(profile.next_run_date, 24)
    if day not in upcoming:
        raise AutoshipError("That date is not one of the next shipments of this standing order.",
                            "day")
    if day == profile.next_run_date:
        _check_open_for_changes(profile, today, rules)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=day))
    session.flush()
    session.refresh(profile, ["skips"])
    if day == profile.next_run_date:
        with planning(profile):
            profile.next_run_date = schedule_of(profile).following(day)
        if profile.next_run_date is None:
            profile.status = ProfileStatus.CANCELLED
            profile.cancelled_at = utcnow()
    session.flush()
    record(session, profile, user, "date skipped", day.isoformat())


def unskip_date(session: Session, *, user: User, profile: AutoshipProfile, day: date, today: date,
                rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    skip = next((s for s in profile.skips if s.skip_date == day), None)
    if skip is None:
        raise NotFound("That date is not skipped.")
    if day <= today:
        raise AutoshipError("That date has passed.")
    profile.skips.remove(skip)
    session.flush()
    if profile.status == ProfileStatus.ACTIVE and profile.next_run_date and day < profile.next_run_date:
        with planning(profile):
            schedule = schedule_of(profile)
            runs_then = schedule.upcoming(schedule.first_on_or_after(day), 1) == [day]
        if runs_then:
            _check_open_for_changes(profile, today, rules)
            profile.next_run_date = day
    session.flush()
    record(session, profile, user, "skip undone", day.isoformat())


# ------------------------------------------------------------------ status

def pause(session: Session, *, user: User, profile: AutoshipProfile, resume_on: date | None,
          today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Only an active standing order can be paused.")
    _check_open_for_changes(profile, today, rules)
    if resume_on is not None:
        if resume_on <= today:
            raise AutoshipError("The resume date must be after today.", "resume_on")
        _check_first_date(resume_on, today)
    profile.status, profile.paused_until = ProfileStatus.PAUSED, resume_on
    session.flush()
    record(session, profile, user, "paused",
           f"until {resume_on.isoformat()}" if resume_on else "until resumed")


def resume(session: Session, *, user: User | None, profile: AutoshipProfile, today: date) -> None:
    """Back to active (from paused, payment failed or cancelled): the next run is the first
    scheduled date after today."""
    lock_profile(session, profile)
    if profile.status == ProfileStatus.ACTIVE:
        raise AutoshipError("This standing order is already active.")
    if not profile.items:
        raise AutoshipError("Add an item before reactivating this standing order.")
    with planning(profile):
        next_run = schedule_of(profile).first_on_or_after(today + timedelta(days=1))
    if profile.regularity == Regularity.CALENDAR and profile.next_run_date \
            and profile.next_run_date > today and profile.status == ProfileStatus.PAUSED:
        next_run = profile.next_run_date
    if next_run is None:
        raise AutoshipError("This schedule has no more dates; choose a new schedule first.")
    previous = profile.status
    profile.status, profile.paused_until, profile.cancelled_at = ProfileStatus.ACTIVE, None, None
    profile.next_run_date = next_run
    session.flush()
    record(session, profile, user, "resumed" if previous == ProfileStatus.PAUSED else "reactivated",
           f"next {next_run.isoformat()}")


def cancel(session: Session, *, user: User, profile: AutoshipProfile, today: date,
           rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    if profile.status == ProfileStatus.CANCELLED:
        raise AutoshipError("This standing order is already cancelled.")
    _check_open_for_changes(profile, today, rules)
    profile.status, profile.cancelled_at = ProfileStatus.CANCELLED, utcnow()
    session.flush()
    record(session, profile, user, "cancelled")


def rename(session: Session, *, user: User, profile: AutoshipProfile, name: str) -> None:
    lock_profile(session, profile)
    before, profile.name = profile.name, _check_name(name)
    session.flush()
    record(session, profile, user, "renamed", f"{before} → {profile.name}")


def change_delivery(session: Session, *, user: User, profile: AutoshipProfile, address_id: int,
                    card_id: int, shipping_method: str, price_policy: str,
                    out_of_stock_policy: str, today: date, rules: AutoshipRules) -> None:
    """Ship-to, card, shipping method, price policy and out-of-stock policy, checked together."""
    lock_profile(session, profile)
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    if shipping_method not in SHIPPING_METHODS:
        raise AutoshipError("Choose a shipping method.", "shipping_method")
    if price_policy not in (PricePolicy.RUN_TIME, PricePolicy.LOCKED):
        raise AutoshipError("Choose how the price is set.", "price_policy")
    if out_of_stock_policy not in (OutOfStockPolicy.BACKORDER, OutOfStockPolicy.SKIP_ITEM):
        raise AutoshipError("Choose what happens when an item is out of stock.", "out_of_stock_policy")
    changes = [f"{label}: {old} → {new}" for label, old, new in (
        ("address", profile.address_id, address.id), ("card", profile.payment_method_id, card.id),
        ("shipping", profile.shipping_method, shipping_method),
        ("price", profile.price_policy, price_policy),
        ("out of stock", profile.out_of_stock_policy, out_of_stock_policy)) if old != new]
    if not changes:
        return
    _check_open_for_changes(profile, today, rules)
    if price_policy != profile.price_policy:
        for item in profile.items:
            if price_policy == PricePolicy.LOCKED:
                _lock_prices(item)
            else:
                item.locked_price = item.locked_pv = item.locked_bv = None
    profile.address_id, profile.payment_method_id = address.id, card.id
    profile.shipping_method, profile.price_policy = shipping_method, price_policy
    profile.out_of_stock_policy = out_of_stock_policy
    if profile.status == ProfileStatus.PAYMENT_FAILED and "card" in " ".join(changes):
        record(session, profile, user, "card replaced after a failed payment")
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "delivery changed", "; ".join(changes))


# ------------------------------------------------------------------ ship now

def ship_now_date(profile: AutoshipProfile, today: date) -> date | None:
    """The date whose order "Ship now" places: the next occurrence on a calendar, today when
    rolling."""
    return profile.next_run_date if profile.regularity == Regularity.CALENDAR else today


def ship_now(session: Session, *, user: User, profile: AutoshipProfile, gateway: PaymentGateway,
             shipping: ShippingRule, today: date, offered: date | None = None) -> Order:
    """Place and charge this cycle's order now. Calendar: it is the next occurrence's order
    (that date will not run again). Rolling: the interval restarts from today.

    ``offered`` is the date the person's page offered to ship (``ship_now_date`` when it was
    shown): once that date has shipped, pressing again from the same page (another tab, a
    second device) is refused rather than shipping the occurrence after it."""
    lock_profile(session, profile)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Resume the standing order before shipping it.")
    due = ship_now_date(profile, today)
    for day in dict.fromkeys(d for d in (offered, due) if d is not None):
        shipped = session.scalar(select(Order).where(Order.autoship_profile_id == profile.id,
                                                     Order.autoship_due_date == day))
        if shipped is not None:
            raise AlreadyDone(f"This standing order already shipped for {day:%B %-d, %Y}: "
                              f"order {shipped.number}.")
    if offered is not None and offered != due:
        raise AutoshipError(f"The next shipment is now on {due:%B %-d, %Y}. Check it, then "
                            "press “Ship now” again to ship it today.")
    lines, problems = priced_items(profile)
    if not lines:
        raise AutoshipError("Nothing in this standing order can be shipped: " + " ".join(problems))
    with planning(profile):  # before anything is charged
        next_run = schedule_of(profile).following(due)
    address = owned_address(session, user, profile.address_id)
    card = usable_card(session, user, profile.payment_method_id, today)
    order = build_order(user=user, source=OrderSource.AUTOSHIP, lines=lines, address=address,
                        card=card, shipping=shipping)
    order.autoship_profile_id, order.autoship_due_date = profile.id, due
    session.add(order)
    session.flush()
    charge_order(session, order, gateway, card.token,
                 idempotency_key=f"autoship:{profile.id}:{due.isoformat()}")
    profile.last_order_date = today
    profile.next_run_date = next_run
    if profile.next_run_date is None:
        profile.status, profile.cancelled_at = ProfileStatus.CANCELLED, utcnow()
    session.flush()
    record(session, profile, user, "shipped now",
           f"order {order.number} for {due.isoformat()}; next {profile.next_run_date}")
    return order


# ------------------------------------------------------------------ calendar feed

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_calendar_token(session: Session, *, user: User) -> str:
    """A new secret feed URL token; any earlier one stops working."""
    token = secrets.token_urlsafe(24)
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    session.add(CalendarFeed(user_id=user.id, token_hash=_token_hash(token)))
    session.flush()
    return token


def revoke_calendar_token(session: Session, *, user: User) -> None:
    session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    session.flush()


def feed_owner(session: Session, token: str) -> User | None:
    if not token or len(token) > 100:
        return None
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _token_hash(token)))
    return session.get(User, feed.user_id) if feed else None
