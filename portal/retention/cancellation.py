"""Cancelling a standing order, with the question why and, for most reasons, something else to
do instead: skip the next shipment, pause, move the next shipment later, ship less often or
swap an item. Each offer is one action through the standing orders' own services; cancelling
stays two clicks ("Cancel" on the standing order, then "Cancel my standing order" on the reason
page, with or without a reason). Every answer is kept (``Cancellation``): the reason, the free
text and the outcome (the offer taken, or cancelled), for the report of reasons and saves.

The reason page carries its own key: sending it twice (a double click, a second tab) answers
with what the first did, and records nothing more."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.models import User
from portal.autoship import lifecycle, schedule_changes
from portal.autoship.models import AutoshipProfile, ProfileStatus
from portal.autoship.profiles import (AlreadyDone, AutoshipError, AutoshipRules, changes_closed,
                                      days_until_cutoff, first_open_date, lock_profile, schedule_of)
from portal.autoship.schedule import UnplannableSchedule
from portal.autoship.recurrence import Recurrence
from portal.retention import swaps
from portal.retention.models import Cancellation, Offer, Outcome

NOT_GIVEN = "not_given"
MAX_DETAILS = 500


@dataclass(frozen=True)
class Reason:
    label: str
    offers: tuple[str, ...]   # what the page offers instead, best first


REASONS = {
    "too_much": Reason("I have more than I need", (Offer.SKIP, Offer.PAUSE, Offer.SCHEDULE)),
    "too_often": Reason("It comes too often", (Offer.SCHEDULE, Offer.LATER, Offer.SKIP)),
    "too_expensive": Reason("It costs too much", (Offer.SWAP, Offer.SCHEDULE, Offer.SKIP)),
    "not_right": Reason("A product is not right for me", (Offer.SWAP, Offer.SKIP)),
    "away": Reason("I am away for a while", (Offer.PAUSE, Offer.LATER)),
    "other": Reason("Another reason", (Offer.SKIP, Offer.PAUSE)),
}
REASON_LABELS = {**{code: r.label for code, r in REASONS.items()}, NOT_GIVEN: "No reason given"}
OFFER_LABELS = {Offer.SKIP: "Skipped a shipment", Offer.PAUSE: "Paused",
                Offer.LATER: "Moved the next shipment", Offer.SCHEDULE: "Ships less often",
                Offer.SWAP: "Swapped an item"}
LESS_OFTEN = (2, 3)  # "every 2 months", "every 3 months": the schedules offered instead
PAUSE_DAYS, LATER_DAYS = 60, 30  # the dates the offers suggest (the member may change them)


@dataclass(frozen=True)
class Offered:
    """One offer as the page shows it, with the values it suggests."""

    kind: str
    skip_date: date | None = None
    resume_on: date | None = None
    later_date: date | None = None
    schedules: tuple[tuple[int, str], ...] = field(default=())


def offers_for(profile: AutoshipProfile, reason: str, today: date, rules: AutoshipRules) -> list[Offered]:
    """What the page offers instead of cancelling, for ``reason``. Only an active standing
    order has shipments to skip, pause or move; once the next shipment is being prepared (the
    edit cutoff) only skipping the one after it is left. The services still check each offer
    when it is taken."""
    if reason not in REASONS or profile.status != ProfileStatus.ACTIVE or profile.next_run_date is None:
        return []
    nxt = profile.next_run_date
    if changes_closed(days_until_cutoff(profile, today, rules)):
        try:
            after = schedule_of(profile).following(nxt)
        except UnplannableSchedule:
            after = None
        return [Offered(Offer.SKIP, skip_date=after)] if after and Offer.SKIP in REASONS[reason].offers else []
    made = {Offer.SKIP: Offered(Offer.SKIP, skip_date=nxt),
            Offer.PAUSE: Offered(Offer.PAUSE, resume_on=today + timedelta(days=PAUSE_DAYS)),
            Offer.LATER: Offered(Offer.LATER, later_date=nxt + timedelta(days=LATER_DAYS)),
            Offer.SCHEDULE: Offered(Offer.SCHEDULE, schedules=tuple(
                (n, Recurrence.every(n, "months").describe(nxt)) for n in LESS_OFTEN)),
            Offer.SWAP: Offered(Offer.SWAP)}
    return [made[kind] for kind in REASONS[reason].offers]


def checked_reason(reason: str | None, details: str | None) -> tuple[str, str]:
    reason = reason or NOT_GIVEN
    if reason not in REASON_LABELS:
        raise AutoshipError("Choose one of the reasons listed.", "reason")
    details = " ".join((details or "").split())
    if len(details) > MAX_DETAILS:
        raise AutoshipError(f"Use at most {MAX_DETAILS} characters.", "details")
    return reason, details


@dataclass(frozen=True)
class Answered:
    record: Cancellation
    repeated: bool = False  # the same page sent again: nothing changed this time


def _earlier(session: Session, profile: AutoshipProfile, key: str, offer: str | None) -> Answered | None:
    """The answer this page already gave, when it is sent again for the same choice; another
    choice from a page already answered is refused (the page is out of date)."""
    earlier = session.scalar(select(Cancellation).where(Cancellation.key == key))
    if earlier is None:
        return None
    if earlier.profile_id != profile.id or earlier.offer != offer:
        raise AlreadyDone(f"This page was already answered ({earlier.answer}) Open the standing "
                          "order again to change it.")
    return Answered(earlier, repeated=True)


def cancel_with_reason(session: Session, *, user: User, profile: AutoshipProfile, reason: str | None,
                       details: str | None, key: str, today: date, rules: AutoshipRules,
                       actor: User | None = None) -> Answered:
    """Cancel (``lifecycle.cancel``: refused inside the edit cutoff like every change) and keep
    why. The same ``key`` again answers with the first cancellation."""
    reason, details = checked_reason(reason, details)
    lock_profile(session, profile)  # a twin submission waits here, then finds the first's key
    earlier = _earlier(session, profile, key, None)
    if earlier is not None:
        return earlier
    lifecycle.cancel(session, user=user, actor=actor, profile=profile, today=today, rules=rules)
    return _keep(session, profile, user, key, reason, details, Outcome.CANCELLED, None,
                 "Standing order cancelled. Nothing more will ship or be charged.")


def take_offer(session: Session, *, user: User, profile: AutoshipProfile, reason: str | None,
               details: str | None, key: str, offer: str, today: date, rules: AutoshipRules,
               day: date | None = None, months: int | None = None, item_id: int | None = None,
               product_id: int | None = None, unit_code: str | None = None) -> Answered:
    """Keep the standing order with ``offer`` (one action of its own service) instead of
    cancelling, and record it as saved. ``day``: the date to skip, resume on or move to;
    ``months``: the new interval; ``item_id``, ``product_id``, ``unit_code``: the swap."""
    reason, details = checked_reason(reason, details)
    lock_profile(session, profile)
    earlier = _earlier(session, profile, key, offer)
    if earlier is not None:
        return earlier
    if offer == Offer.SKIP:
        if day is None:
            raise AutoshipError("Choose the shipment to skip.", "day")
        schedule_changes.skip_date(session, user=user, profile=profile, day=day, today=today, rules=rules)
        answer = f"Kept, with the shipment of {formatting.day(day, 'long')} skipped."
    elif offer == Offer.PAUSE:
        lifecycle.pause(session, user=user, profile=profile, resume_on=day, today=today, rules=rules)
        answer = ("Kept and paused " + (f"until {formatting.day(day, 'long')}." if day else "until you resume it."))
    elif offer == Offer.LATER:
        if day is None:
            raise AutoshipError("Choose the new date of the next shipment.", "day")
        schedule_changes.change_next_date(session, user=user, profile=profile, new_date=day,
                                          move_anchor=False, today=today, rules=rules)
        answer = f"Kept, next shipment on {formatting.day(profile.next_run_date, 'long')}."
    elif offer == Offer.SCHEDULE:
        if months not in LESS_OFTEN:
            raise AutoshipError("Choose how often it ships.", "months")
        first = max(profile.next_run_date or today, first_open_date(today, rules))
        rule = Recurrence.every(months, "months")
        schedule_changes.change_schedule(session, user=user, profile=profile, rule=rule,
                                         regularity=profile.regularity, first_date=first, today=today,
                                         rules=rules)
        words = rule.describe(first)
        answer = (f"Kept, now {words[:1].lower()}{words[1:]}: next shipment on "
                  f"{formatting.day(profile.next_run_date, 'long')}.")
    elif offer == Offer.SWAP:
        if item_id is None or product_id is None:
            raise AutoshipError("Choose the item and the product to swap it for.", "product_id")
        done = swaps.swap_item(session, user=user, profile=profile, item_id=item_id,
                               product_id=product_id, unit_code=unit_code, key=None, today=today,
                               rules=rules)
        answer = f"Kept. {done.message}"
    else:
        raise AutoshipError("Choose one of the offers.", "offer")
    return _keep(session, profile, user, key, reason, details, Outcome.SAVED, offer, answer)


def _keep(session: Session, profile: AutoshipProfile, user: User, key: str, reason: str, details: str,
          outcome: str, offer: str | None, answer: str) -> Answered:
    record = Cancellation(profile_id=profile.id, user_id=user.id, key=key, reason=reason,
                          details=details, outcome=outcome, offer=offer, answer=answer[:500])
    session.add(record)
    session.flush()
    return Answered(record)
