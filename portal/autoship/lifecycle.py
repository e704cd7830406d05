"""A standing order's status and particulars: pausing, resuming (or reactivating) and
cancelling it; its name; where it ships, how it is paid and priced."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.addresses.services import owned_address
from portal.autoship.items import lock_prices
from portal.autoship.models import (OUT_OF_STOCK_WORDS, PRICE_POLICY_WORDS, SHIPPING_METHODS,
                                    AutoshipProfile, OutOfStockPolicy, PricePolicy, ProfileStatus)
from portal.autoship.profiles import (HORIZON_DAYS, AutoshipError, AutoshipRules,
                                      check_open_for_changes, checked_name, kept_on_resume,
                                      lock_profile, next_run_after_change, planning, record)
from portal.autoship.volume import refresh_cycle_pv
from portal.clock import utcnow
from portal.payments.models import PaymentMethod
from portal.payments.services import usable_card


def pause(session: Session, *, user: User, actor: User | None = None,
          profile: AutoshipProfile, resume_on: date | None,
          today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Only an active standing order can be paused.")
    check_open_for_changes(profile, today, rules)
    if resume_on is not None:
        check_resume_date(resume_on, today)
    profile.status, profile.paused_until = ProfileStatus.PAUSED, resume_on
    session.flush()
    record(session, profile, actor or user, "paused",
           f"until {resume_on.isoformat()}" if resume_on else "until resumed")


def check_resume_date(resume_on: date, today: date) -> None:
    """A date a paused standing order resumes on by itself: after today, within the horizon."""
    if resume_on <= today:
        raise AutoshipError("The resume date must be after today.", "resume_on")
    if resume_on > today + timedelta(days=HORIZON_DAYS):
        raise AutoshipError("Choose a date within the next twelve months.", "resume_on")


def change_resume_date(session: Session, *, user: User, actor: User | None = None,
                       profile: AutoshipProfile, resume_on: date,
                       today: date) -> None:
    """A paused standing order resumes by itself on another date; its shipments then follow
    the rule of every resume (``next_run_after_change``)."""
    lock_profile(session, profile)
    if profile.status != ProfileStatus.PAUSED:
        raise AutoshipError("Only a paused standing order has a resume date to change.")
    check_resume_date(resume_on, today)
    before, profile.paused_until = profile.paused_until, resume_on
    session.flush()
    record(session, profile, actor or user, "resume date changed",
           f"{before.isoformat() if before else 'until resumed'} → {resume_on.isoformat()}")


def resume(session: Session, *, user: User | None, actor: User | None = None,
           profile: AutoshipProfile, today: date) -> None:
    """Back to active (from paused, payment failed or cancelled): the next run is the first
    scheduled date after today and after the last date already ordered for (a paused calendar
    profile keeps its next date if that is still open)."""
    lock_profile(session, profile)
    if profile.status == ProfileStatus.ACTIVE:
        raise AutoshipError("This standing order is already active.")
    if not profile.items:
        raise AutoshipError("Add an item before reactivating this standing order.")
    with planning(profile):
        next_run = next_run_after_change(session, profile, today + timedelta(days=1),
                                         kept=kept_on_resume(profile))
    if next_run is None:
        raise AutoshipError("This schedule has no more dates; choose a new schedule first.")
    previous = profile.status
    profile.status, profile.paused_until, profile.cancelled_at = ProfileStatus.ACTIVE, None, None
    profile.next_run_date = next_run
    session.flush()
    record(session, profile, actor or user, "resumed" if previous == ProfileStatus.PAUSED else "reactivated",
           f"next {next_run.isoformat()}")


def cancel(session: Session, *, user: User, actor: User | None = None,
           profile: AutoshipProfile, today: date,
           rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    if profile.status == ProfileStatus.CANCELLED:
        raise AutoshipError("This standing order is already cancelled.")
    check_open_for_changes(profile, today, rules)
    profile.status, profile.cancelled_at = ProfileStatus.CANCELLED, utcnow()
    session.flush()
    record(session, profile, actor or user, "cancelled")


def rename(session: Session, *, user: User, actor: User | None = None,
           profile: AutoshipProfile, name: str) -> None:
    lock_profile(session, profile)
    before, profile.name = profile.name, checked_name(name)
    session.flush()
    record(session, profile, actor or user, "renamed", f"{before} → {profile.name}")


def change_delivery(session: Session, *, user: User, actor: User | None = None,
                    profile: AutoshipProfile, address_id: int,
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
    before_address = session.get(Address, profile.address_id)
    before_card = session.get(PaymentMethod, profile.payment_method_id)
    # In words, as they read now: the history stays true after a card is removed or an
    # address renamed, and shows no database ids.
    changes = [f"{label} changed from {old} to {new}." for label, old, new, changed in (
        ("Ship-to", before_address.moniker, address.moniker, profile.address_id != address.id),
        ("Card", before_card.label, card.label, profile.payment_method_id != card.id),
        ("Shipping", SHIPPING_METHODS.get(profile.shipping_method, profile.shipping_method),
         SHIPPING_METHODS[shipping_method], profile.shipping_method != shipping_method),
        ("Price", PRICE_POLICY_WORDS.get(profile.price_policy, profile.price_policy),
         PRICE_POLICY_WORDS[price_policy], profile.price_policy != price_policy),
        ("Out-of-stock items", OUT_OF_STOCK_WORDS.get(profile.out_of_stock_policy),
         OUT_OF_STOCK_WORDS[out_of_stock_policy], profile.out_of_stock_policy != out_of_stock_policy))
        if changed]
    card_changed = profile.payment_method_id != card.id
    if not changes:
        return
    check_open_for_changes(profile, today, rules)
    if price_policy != profile.price_policy:
        for item in profile.items:
            if price_policy == PricePolicy.LOCKED:
                lock_prices(item)
            else:
                item.locked_price = item.locked_pv = item.locked_bv = None
    profile.address_id, profile.payment_method_id = address.id, card.id
    profile.shipping_method, profile.price_policy = shipping_method, price_policy
    profile.out_of_stock_policy = out_of_stock_policy
    if profile.status == ProfileStatus.PAYMENT_FAILED and card_changed:
        record(session, profile, actor or user, "card replaced after a failed payment")
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "delivery changed", " ".join(changes))
