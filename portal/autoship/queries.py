"""Read-side standing orders: lists, summaries, history and upcoming runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile, ProfileStatus
from portal.autoship.one_time import priced_one_time
from portal.autoship.schedule import UnplannableSchedule
from portal.autoship.profiles import (AutoshipRules, accepts_changes, changes_closed, days_until_cutoff,
                                      describe_rule, kept_on_resume, priced_items, schedule_of)
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule, Totals, totals


@dataclass(frozen=True)
class ProfileSummary:
    profile: AutoshipProfile
    description: str
    upcoming: list[date]
    skipped: list[date]
    cycle: Totals
    problems: list[str]
    below_min_pv: bool
    days_to_cutoff: int | None
    changes_closed: bool  # the next run's edit cutoff has passed: changes that affect it are refused
    # Why no date of it can be planned (the engine set it aside, or would): shown on every page
    # that shows the profile, with what to do about it. None when it plans fine.
    unplannable: str | None = None
    # Paused: the date it resumes on by itself (None: when the person resumes it); ``upcoming``
    # are then the shipments after that resume (after today for a pause without a date).
    resumes_on: date | None = None
    # The next shipment alone: the cycle and the one-time lines that go with it ("this time
    # only"); the same as ``cycle`` when there are none.
    next_shipment: Totals | None = None
    short_of_free: Decimal = Decimal("0.00")


def profiles_of(session: Session, user: User) -> list[AutoshipProfile]:
    return list(session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.user_id == user.id)
        .options(selectinload(AutoshipProfile.items), selectinload(AutoshipProfile.skips),
                 selectinload(AutoshipProfile.one_time_lines))
        .order_by(AutoshipProfile.status == ProfileStatus.CANCELLED, AutoshipProfile.next_run_date,
                  AutoshipProfile.id)))


def open_for_changes(session: Session, user: User, today: date,
                     rules: AutoshipRules) -> list[AutoshipProfile]:
    """The person's standing orders that take changes now: where a cart may be added."""
    return [p for p in profiles_of(session, user) if accepts_changes(p, today, rules)]


def summarize(profile: AutoshipProfile, today: date, rules: AutoshipRules,
              shipping: ShippingRule, count: int = 6, *,
              last_ordered: date | None = None) -> ProfileSummary:
    """What a page shows of a profile. ``last_ordered`` is the last date it has an order for
    (``last_ordered_dates``): a paused profile's shipments after its resume come after it."""
    lines, problems = priced_items(profile)
    cycle = totals(lines, shipping)
    extras, extra_problems = priced_one_time(profile)
    problems += extra_problems
    shipment = totals(lines + extras, shipping) if profile.one_time_lines else cycle
    upcoming, unplannable, stale = [], None, frozenset()
    days_to_cutoff = days_until_cutoff(profile, today, rules)
    resumes_on = profile.paused_until if profile.status == ProfileStatus.PAUSED else None
    if profile.status == ProfileStatus.UNPLANNABLE:
        unplannable = profile.set_aside_reason or "Its schedule cannot be planned."
    elif profile.status in (ProfileStatus.ACTIVE, ProfileStatus.PAUSED):
        try:
            schedule = schedule_of(profile)
            first = profile.next_run_date if profile.status == ProfileStatus.ACTIVE else \
                schedule.next_after_change(resumes_on or today + timedelta(days=1), last_ordered,
                                           kept_on_resume(profile))
            upcoming = schedule.upcoming(first, count)
            stale = schedule.stale_skips(today, last_ordered)
        except UnplannableSchedule as error:
            unplannable = f"Its schedule cannot be planned: {error}."
    return ProfileSummary(
        profile=profile,
        description=describe_rule(profile)
        + (" (rolling: counted from the last order)" if profile.regularity == "rolling" else ""),
        upcoming=upcoming, unplannable=unplannable, resumes_on=resumes_on,
        skipped=sorted(s.skip_date for s in profile.skips if s.skip_date > today and s.skip_date not in stale),
        cycle=cycle, problems=problems,
        below_min_pv=bool(lines) and cycle.pv < rules.min_pv,
        days_to_cutoff=days_to_cutoff, changes_closed=changes_closed(days_to_cutoff),
        next_shipment=shipment, short_of_free=shipping.short_of_free(shipment.subtotal))


def history(session: Session, profile: AutoshipProfile, limit: int = 50) -> list[AutoshipEvent]:
    return list(session.scalars(select(AutoshipEvent).where(AutoshipEvent.profile_id == profile.id)
                                .options(selectinload(AutoshipEvent.actor))
                                .order_by(AutoshipEvent.at.desc(), AutoshipEvent.id.desc())
                                .limit(limit)))


def recent_orders(session: Session, profile: AutoshipProfile, limit: int = 10) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.autoship_profile_id == profile.id)
                                .order_by(Order.autoship_due_date.desc()).limit(limit)))


def every_profile(member_number: str = ""):
    """(profile, owner) of every standing order, newest first, or of one member's: a select
    for the admins' paged list."""
    query = (select(AutoshipProfile, User).join(User, User.id == AutoshipProfile.user_id)
             .order_by(AutoshipProfile.id.desc()))
    if member_number:
        query = query.where(User.member_number == member_number)
    return query


def needing_a_schedule(session: Session, user: User) -> list[AutoshipProfile]:
    """The person's standing orders the engine set aside until they choose a new schedule."""
    return list(session.scalars(select(AutoshipProfile).where(
        AutoshipProfile.user_id == user.id, AutoshipProfile.status == ProfileStatus.UNPLANNABLE)
        .order_by(AutoshipProfile.id)))


def upcoming_for_person(session: Session, user: User, today: date, horizon_days: int = 62):
    """(date, profile) for every active profile's runs in the coming weeks, soonest first."""
    until = today + timedelta(days=horizon_days)
    runs = []
    for profile in profiles_of(session, user):
        if profile.status != ProfileStatus.ACTIVE:
            continue
        try:
            days = schedule_of(profile).upcoming(profile.next_run_date, 12)
        except UnplannableSchedule:
            continue  # its own page says why; the engine sets it aside on its next run
        for day in days:
            if day > until:
                break
            runs.append((day, profile))
    return sorted(runs, key=lambda run: (run[0], run[1].id))


@dataclass(frozen=True)
class Holders:
    """Who a product's withdrawal reaches: the standing orders holding it and their people."""
    profiles: int
    people: int


def holders_of(session: Session, product_ids: list[int]) -> dict[int, Holders]:
    """For each product, the standing orders (not cancelled) that hold it, in one query;
    products nobody holds are left out."""
    if not product_ids:
        return {}
    rows = session.execute(
        select(AutoshipItem.product_id, func.count(distinct(AutoshipProfile.id)),
               func.count(distinct(AutoshipProfile.user_id)))
        .join(AutoshipProfile, AutoshipProfile.id == AutoshipItem.profile_id)
        .where(AutoshipItem.product_id.in_(product_ids),
               AutoshipProfile.status != ProfileStatus.CANCELLED)
        .group_by(AutoshipItem.product_id))
    return {product_id: Holders(profiles, people) for product_id, profiles, people in rows}

