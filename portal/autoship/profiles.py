"""A standing order as every change sees it: finding the person's own, locking it, its
schedule and priced cycle, the edit cutoff, the checks shared by the changes, and the audit
history each change writes to. The changes themselves live beside it: ``creation``,
``items``, ``schedule_changes``, ``lifecycle``, ``shipping_now``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.audit import acts_for_another, record_for_member
from portal.accounts.models import User
from portal.addresses.models import Address
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipProfile, ProfileStatus,
                                    Regularity)
from portal.autoship.recurrence import Recurrence
from portal.autoship.schedule import Schedule, UnplannableSchedule
from portal.catalog.models import Product
from portal.errors import DomainError, NotFound
from portal.mail.services import queue_mail
from portal.orders.models import Order
from portal.orders.pricing import PricedLine
from portal.orders.rules import unit_amount
from portal.payments.models import PaymentMethod

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


# ------------------------------------------------------------------ reading

_STATE_BEFORE = "autoship_profile_state_before"  # session.info: profile id -> ProfileState


@dataclass(frozen=True)
class ProfileState:
    """What a standing order is, in plain values: the before and after of an audit entry."""

    name: str
    status: str
    rrule: str
    regularity: str
    next_run_date: date | None
    paused_until: date | None
    address_id: int | None
    payment_method_id: int | None
    shipping_method: str
    price_policy: str
    items: tuple[tuple[int, str, int], ...]  # (product id, unit, quantity)

    @classmethod
    def of(cls, profile: AutoshipProfile, items) -> "ProfileState":
        return cls(name=profile.name, status=profile.status, rrule=profile.rrule,
                   regularity=profile.regularity, next_run_date=profile.next_run_date,
                   paused_until=profile.paused_until, address_id=profile.address_id,
                   payment_method_id=profile.payment_method_id,
                   shipping_method=profile.shipping_method, price_policy=profile.price_policy,
                   items=tuple(sorted((i.product_id, i.unit_code, i.quantity) for i in items)))

    def in_words(self, session: Session) -> str:
        """One line a person reads: status, schedule, next date, items, ship-to and card (by
        its label: brand and last four digits only)."""
        skus = dict(session.execute(select(Product.id, Product.sku).where(
            Product.id.in_([product_id for product_id, _unit, _quantity in self.items]))).all())
        address = session.get(Address, self.address_id) if self.address_id else None
        card = session.get(PaymentMethod, self.payment_method_id) if self.payment_method_id else None
        try:
            schedule = Recurrence.parse(self.rrule).describe()
        except (ValueError, TypeError):
            schedule = self.rrule
        return "; ".join((
            f"“{self.name}”, {self.status.replace('_', ' ')}",
            f"{schedule} ({self.regularity})",
            f"next {self.next_run_date.isoformat() if self.next_run_date else 'none'}"
            + (f", paused until {self.paused_until.isoformat()}" if self.paused_until else ""),
            ", ".join(f"{quantity} × {skus.get(product_id, product_id)} ({unit})"
                      for product_id, unit, quantity in self.items) or "no items",
            f"ships to {address.moniker if address else '?'} by {self.shipping_method}",
            f"paid with {card.label if card else '?'}, {self.price_policy.replace('_', ' ')} prices"))


def lock_profile(session: Session, profile: AutoshipProfile) -> None:
    """Hold the profile's row until this transaction ends, and read it again with its items
    and skips: a concurrent change of the same profile (another tab, another device) waits
    here for this one, then checks against what this one committed, as if it came after.

    Every change of a profile starts with it (SELECT ... FOR UPDATE)."""
    session.flush()  # what the caller changed already is kept, not read over
    session.refresh(profile, with_for_update=True)
    # Items already in the session get their committed quantities; the collections reload.
    items = session.scalars(select(AutoshipItem).where(AutoshipItem.profile_id == profile.id)
                            .execution_options(populate_existing=True)).all()
    session.expire(profile, ["items", "skips"])
    # How it stood before this change, for the audit entry should staff be making it (plain
    # values already read: no query more for a member's own change).
    session.info.setdefault(_STATE_BEFORE, {})[profile.id] = ProfileState.of(profile, items)


def owned_profile(session: Session, user: User, profile_id: int) -> AutoshipProfile:
    profile = session.get(AutoshipProfile, profile_id)
    if profile is None or profile.user_id != user.id:
        raise NotFound("We could not find that standing order in your account.")
    return profile


def schedule_of(profile: AutoshipProfile) -> Schedule:
    return Schedule.of(profile.rrule, profile.anchor_date, profile.regularity,
                       (skip.skip_date for skip in profile.skips))


def last_ordered_dates(session: Session, profile_ids) -> dict[int, date]:
    """The last date each profile has an order for (any order, whatever became of it: the
    date is taken, one order per profile and date); profiles with none are left out."""
    return dict(session.execute(
        select(Order.autoship_profile_id, func.max(Order.autoship_due_date))
        .where(Order.autoship_profile_id.in_(list(profile_ids)))
        .group_by(Order.autoship_profile_id)).all())


def next_run_after_change(session: Session, profile: AutoshipProfile, earliest: date,
                          kept: date | None = None) -> date | None:
    """The one rule for the next date after a change of status or schedule, as the profile
    stands (``Schedule.next_after_change``): the first date of its schedule on or after
    ``earliest`` after the last date it has an order for. UnplannableSchedule if the schedule
    cannot say; None when it has no such date."""
    last_ordered = last_ordered_dates(session, [profile.id]).get(profile.id)
    return schedule_of(profile).next_after_change(earliest, last_ordered, kept)


def kept_on_resume(profile: AutoshipProfile) -> date | None:
    """The date a paused calendar profile goes back to when it resumes, if still open: its
    next date as it was (possibly moved once). Other statuses start afresh from the schedule."""
    if profile.status == ProfileStatus.PAUSED and profile.regularity == Regularity.CALENDAR:
        return profile.next_run_date
    return None


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


def first_open_date(today: date, rules: AutoshipRules) -> date:
    """The earliest date a new standing order can first ship on and still be open for changes
    (``days_until_cutoff`` not below 0); never today, whose run has already been made."""
    return today + timedelta(days=max(rules.cutoff_days, 1))


def changes_closed(days_to_cutoff: int | None) -> bool:
    """Whether the edit cutoff of the next run has passed (``days_until_cutoff`` below 0):
    changes that affect that run are refused, and the pages offer none."""
    return days_to_cutoff is not None and days_to_cutoff < 0


def priced_items(profile: AutoshipProfile) -> tuple[list[PricedLine], list[str]]:
    """The cycle priced by the profile's policy, and what cannot be shipped as it stands."""
    lines, problems = [], []
    for item in profile.items:
        product, unit = item.product, item.product.unit(item.unit_code)
        if not product.active or unit is None:
            problems.append(f"{product.name} ({item.unit_code}) is no longer sold; "
                            "it will be left out until you replace it.")
            continue
        lines.append(priced_line(profile, item, unit))
    return lines, problems


def priced_line(profile: AutoshipProfile, line, unit) -> PricedLine:
    """A standing order's line (an item, or a one-time line: ``quantity`` and the locked
    figures) in ``unit``, priced by the profile's policy: the one place the lock applies."""
    policy, product = profile.price_policy, line.product
    return PricedLine(
        product_id=product.id, sku=product.sku, name=product.name, unit_code=unit.code,
        eaches_per_unit=unit.eaches_per_unit, quantity=line.quantity,
        unit_price=unit_amount(policy, line.locked_price, unit.price),
        unit_pv=unit_amount(policy, line.locked_pv, unit.pv),
        unit_bv=unit_amount(policy, line.locked_bv, unit.bv))


# ------------------------------------------------------------------ checks every change shares

def record(session: Session, profile: AutoshipProfile, actor: User | None, action: str,
           details: str = "") -> None:
    """One line of the profile's audit history. A change staff make for the member (the actor
    is not the owner) is also an audit entry, with the profile before and after, and the
    member is told by mail."""
    session.add(AutoshipEvent(profile_id=profile.id, actor_id=actor.id if actor else None,
                              action=action, details=details[:2000]))
    if not acts_for_another(actor, profile.user_id):
        return
    session.flush()
    before = session.info.get(_STATE_BEFORE, {}).pop(profile.id, None)
    after = ProfileState.of(profile, profile.items)
    subject = f"standing order “{profile.name}”"
    record_for_member(session, actor=actor, member_id=profile.user_id, area="autoship",
                      subject=subject, action=action, details=details,
                      before=before.in_words(session) if before else "",
                      after=after.in_words(session))
    member = session.get(User, profile.user_id)
    queue_mail(session, user=member, subject=f"Your standing order “{profile.name}” was changed",
               body=f"Hello {member.first_name},\n\n{actor.full_name} of our support team changed "
                    f"your standing order “{profile.name}” for you: {action}"
                    + (f" ({details})" if details else "") + ".\n\n"
                    f"It now reads: {after.in_words(session)}.\n\nYou can see every change "
                    "in its history under Autoship when you log in. If you did not ask for "
                    "this, reply to this message.\n")


def check_open_for_changes(profile: AutoshipProfile, today: date, rules: AutoshipRules) -> None:
    """Refuse a change that would affect a run already being prepared, or a cancelled profile."""
    if profile.status == ProfileStatus.CANCELLED:
        raise AutoshipError("This standing order is cancelled. Reactivate it to change it.")
    if profile.status == ProfileStatus.UNPLANNABLE:
        return  # the engine set it aside: no shipment of it is being prepared
    if changes_closed(days_until_cutoff(profile, today, rules)):
        raise AutoshipError(
            f"Your next shipment on {formatting.day(profile.next_run_date, 'day_of_month')} is being "
            f"prepared: changes that affect it are closed {rules.cutoff_days} days before. You can skip "
            "a later date now, or change this one after it ships.")


def accepts_changes(profile: AutoshipProfile, today: date, rules: AutoshipRules) -> bool:
    """Whether ``check_open_for_changes`` lets a change through: the standing orders a page may
    offer to add things to."""
    try:
        check_open_for_changes(profile, today, rules)
    except AutoshipError:
        return False
    return True


def checked_name(name: str) -> str:
    """The name with its whitespace tidied; refused when empty or too long."""
    name = " ".join((name or "").split())
    if not name:
        raise AutoshipError("Give the standing order a name, like “Monthly essentials”.", "name")
    if len(name) > MAX_NAME_LENGTH:
        raise AutoshipError(f"Use at most {MAX_NAME_LENGTH} characters for the name.", "name")
    return name


def check_first_date(first: date, today: date) -> None:
    """A first or moved date: from today, within the horizon."""
    if first < today:
        raise AutoshipError("That date is in the past. Choose today or a later date.", "first_date")
    if first > today + timedelta(days=HORIZON_DAYS):
        raise AutoshipError("Choose a date within the next twelve months.", "first_date")
