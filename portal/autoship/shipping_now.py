""""Ship now": a standing order's next cycle placed and charged at once, instead of waiting
for the engine's run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import formatting
from portal.accounts.models import User
from portal.addresses.services import owned_address
from portal.autoship.models import AutoshipProfile, ProfileStatus, Regularity
from portal.autoship.notices import tell_order_paid
from portal.autoship.one_time import priced_one_time, settle_with_order
from portal.autoship.profiles import (AlreadyDone, AutoshipError, lock_profile, planning,
                                      priced_items, record, schedule_of)
from portal.clock import utcnow
from portal.orders.models import Order, OrderSource
from portal.orders.pricing import PricedLine, ShippingRule
from portal.loyalty.program import current_program
from portal.loyalty.standing import pay_standing_orders_with_points
from portal.orders.services import build_order, charge_order
from portal.payments.gateway import PaymentGateway
from portal.payments.models import PaymentMethod
from portal.payments.services import usable_card


def ship_now_date(profile: AutoshipProfile, today: date) -> date | None:
    """The date whose order "Ship now" places: the next occurrence on a calendar, today when
    rolling."""
    return profile.next_run_date if profile.regularity == Regularity.CALENDAR else today


@dataclass(frozen=True)
class ShipNowOffer:
    """What "Ship now" would do: the date it ships for, the lines it charges, the card, and
    the profile's next date after it."""
    due: date
    lines: list[PricedLine]
    card: PaymentMethod
    next_run: date | None


def check_ship_now(session: Session, *, user: User, profile: AutoshipProfile, today: date,
                   offered: date | None = None) -> ShipNowOffer:
    """Everything ``ship_now`` checks before it charges, with the same refusals, changing
    nothing: what its confirmation step shows."""
    if profile.status != ProfileStatus.ACTIVE:
        raise AutoshipError("Resume the standing order before shipping it.")
    due = ship_now_date(profile, today)
    for day in dict.fromkeys(d for d in (offered, due) if d is not None):
        shipped = session.scalar(select(Order).where(Order.autoship_profile_id == profile.id,
                                                     Order.autoship_due_date == day))
        if shipped is not None:
            raise AlreadyDone(f"This standing order already shipped for {formatting.day(day, 'full')}: "
                              f"order {shipped.number}.")
    if offered is not None and offered != due:
        raise AutoshipError(f"The next shipment is now on {formatting.day(due, 'full')}. Check it, then "
                            "press “Ship now” again to ship it today.")
    lines, problems = priced_items(profile)
    lines += priced_one_time(profile)[0]  # the next shipment's one-time lines go with it
    if not lines:
        raise AutoshipError("Nothing in this standing order can be shipped: " + " ".join(problems))
    with planning(profile):  # before anything is charged
        next_run = schedule_of(profile).following(due)
    card = usable_card(session, user, profile.payment_method_id, today)
    return ShipNowOffer(due=due, lines=lines, card=card, next_run=next_run)


def ship_now(session: Session, *, user: User, actor: User | None = None,
             profile: AutoshipProfile, gateway: PaymentGateway,
             shipping: ShippingRule, today: date, base_url: str,
             offered: date | None = None) -> Order:
    """Place and charge this cycle's order now. Calendar: it is the next occurrence's order
    (that date will not run again). Rolling: the interval restarts from today. The member gets
    the confirmation mail a run's paid order gets (links under ``base_url``), after the commit.

    ``offered`` is the date the person's page offered to ship (``ship_now_date`` when it was
    shown): once that date has shipped, pressing again from the same page (another tab, a
    second device) is refused rather than shipping the occurrence after it."""
    lock_profile(session, profile)
    offer = check_ship_now(session, user=user, profile=profile, today=today, offered=offered)
    due, card = offer.due, offer.card
    address = owned_address(session, user, profile.address_id)
    order = build_order(user=user, source=OrderSource.AUTOSHIP, lines=offer.lines, address=address,
                        card=card, shipping=shipping)
    order.autoship_profile_id, order.autoship_due_date = profile.id, due
    session.add(order)
    session.flush()
    settle_with_order(session, profile, order.id)
    pay_standing_orders_with_points(session, [order.id], program=current_program(session),
                                    shipping=shipping)  # when the person chose points for it
    charge_order(session, order, gateway, card.token,
                 idempotency_key=f"autoship:{profile.id}:{due.isoformat()}")
    profile.last_order_date = today
    profile.next_run_date = offer.next_run
    if profile.next_run_date is None:
        profile.status, profile.cancelled_at = ProfileStatus.CANCELLED, utcnow()
    session.flush()
    record(session, profile, actor or user, "shipped now",
           f"order {order.number} for {due.isoformat()}; next {profile.next_run_date}")
    tell_order_paid(session, order, base_url=base_url)
    return order
