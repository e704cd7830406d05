"""What the engine tells members: reminders before a run, and how its payment went."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.autoship.card_notices import card_update_link
from portal.autoship.models import AutoshipProfile, AutoshipReminder, ProfileStatus
from portal.autoship.profiles import priced_items, record
from portal.formatting import day, money, volume
from portal.mail.services import queue_mail
from portal.orders.billing import BillingResult
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule, totals
from portal.orders.receipt_text import lines_text

REMINDER_BATCH = 2000

log = logging.getLogger(__name__)


def send_reminders(session: Session, *, today: date, days_ahead: int, base_url: str,
                   shipping: ShippingRule) -> int:
    """One reminder per active profile whose next run is ``days_ahead`` days away. A profile
    whose reminder cannot be written is logged and left for the next tick; the others go."""
    run_date = today + timedelta(days=days_ahead)
    already = select(AutoshipReminder.profile_id).where(AutoshipReminder.run_date == run_date)
    profiles = session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.status == ProfileStatus.ACTIVE,
                                      AutoshipProfile.next_run_date == run_date,
                                      AutoshipProfile.id.not_in(already))
        .options(selectinload(AutoshipProfile.items)).order_by(AutoshipProfile.id)
        .limit(REMINDER_BATCH)).all()
    sent = 0
    for profile in profiles:
        try:
            with session.begin_nested():
                _remind(session, profile, run_date, base_url, shipping)
        except Exception:  # one member's data must not hold back everyone else's reminder
            log.exception("autoship reminder for profile %s (run %s) not sent; the next tick tries again",
                          profile.id, run_date)
            continue
        sent += 1
    session.flush()
    return sent


def _remind(session: Session, profile: AutoshipProfile, run_date: date, base_url: str,
            shipping: ShippingRule) -> None:
    user = session.get(User, profile.user_id)
    lines, problems = priced_items(profile)
    cycle = totals(lines, shipping)
    link = f"{base_url.rstrip('/')}/autoship/{profile.id}"
    body = (f"Hello {user.first_name},\n\nyour standing order “{profile.name}” ships on "
            f"{day(run_date, 'long_short')}:\n\n{lines_text(lines)}\n\n"
            f"Total {money(cycle.total)} · {volume(cycle.pv)} PV\n"
            + ("".join(f"\nNote: {p}" for p in problems))
            + f"\n\nTo skip this shipment or change it, visit {link}\n")
    queue_mail(session, user=user, subject=f"Your autoship ships on {day(run_date, 'day_of_month')}", body=body)
    session.add(AutoshipReminder(profile_id=profile.id, run_date=run_date))
    session.flush()


def tell_payment_outcomes(session: Session, result: BillingResult, *, base_url: str) -> None:
    """Mail each member what happened; a finally failed autoship marks its profile."""
    base = base_url.rstrip("/")
    for order in _orders(session, result.paid):
        tell_order_paid(session, order, base_url=base)
    for order in _orders(session, result.declined):
        _mail_owner(session, order, subject=f"Payment for order {order.number} was declined",
                    body=f"Your {order.payment_label} was declined for order {order.number} "
                         f"({money(order.total)}). We will try again on "
                         f"{day(order.next_payment_retry_on, 'day_of_month')}. "
                         f"To use another card and pay now, visit {base}/orders/{order.id}\n"
                         + _card_line(order, base))
    for order in _orders(session, result.cancelled):
        _mail_owner(session, order, subject=f"Order {order.number} is cancelled: payment failed",
                    body=f"We could not charge your {order.payment_label} for order {order.number} "
                         f"after several tries, so the order is cancelled."
                         + (" Your standing order is on hold until you choose a working card.\n"
                            if order.autoship_profile_id else "\n")
                         + _card_line(order, base))
        if order.autoship_profile_id:
            profile = session.get(AutoshipProfile, order.autoship_profile_id)
            if profile.status == ProfileStatus.ACTIVE:
                profile.status = ProfileStatus.PAYMENT_FAILED
                record(session, profile, None, "payment failed",
                       f"order {order.number} cancelled after its last payment attempt")
    session.flush()


def tell_order_paid(session: Session, order: Order, *, base_url: str) -> None:
    """The confirmation of a paid standing-order order, whether the run or "Ship now" placed it:
    queued in the outbox, sent after the commit."""
    _mail_owner(session, order, subject=f"Order {order.number} is paid",
                body=f"We charged {money(order.total)} to your {order.payment_label} for order "
                     f"{order.number}. It ships to {order.ship_moniker}.\n"
                     f"{base_url.rstrip('/')}/orders/{order.id}\n")


def _card_line(order: Order, base: str) -> str:
    """Every payment-failure mail of a standing order's order says where its card is changed
    (the same link as the card-expiry notices)."""
    if not order.autoship_profile_id:
        return ""
    return ("To change the card of your standing order for its next shipments, visit "
            f"{card_update_link(base, order.autoship_profile_id)}\n")


def _orders(session: Session, order_ids) -> list[Order]:
    return [session.get(Order, order_id) for order_id in order_ids]


def _mail_owner(session: Session, order: Order, *, subject: str, body: str) -> None:
    queue_mail(session, user=session.get(User, order.user_id), subject=subject, body=body)
