"""Notices before a payment fails: a member whose standing order's card expires before the
order's next run is told 30 days ahead of that run and again 7 days ahead, with a link to the
standing order's page where its card is changed.

The daily job finds them set-based: per threshold, one statement selects the active profiles
whose next run falls in that threshold's window (30: 8 to 30 days away; 7: 1 to 7 days away)
and whose card expires before it (``portal.payments.rules``), leaving out those told already;
one statement records the notices and one writes their mail. A notice is unique per card,
profile and threshold, so a job that runs twice (RQ's cron has no lock) or a day missed and
caught up tells nobody twice, while a new card that expires too gets its own notices. A member
whose run is closer than the window when first found (a profile created 5 days before its
run) gets only the nearer notice.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.autoship.models import AutoshipProfile, CardExpiryNotice, ProfileStatus
from portal.formatting import day
from portal.mail.services import queue_mails
from portal.payments.models import PaymentMethod
from portal.payments.rules import card_expires_before_sql

NOTICE_DAYS = (30, 7)  # how long before the run the member is told, farthest first
NOTICE_BATCH = 5000


def card_update_link(base_url: str, profile_id: int) -> str:
    """Where a member changes the card of one standing order: its page, the delivery and
    payment section opened. Every notice about that standing order's card links here."""
    return f"{base_url.rstrip('/')}/autoship/{profile_id}?change=card#delivery"


def notice_windows(days: tuple[int, ...] = NOTICE_DAYS) -> list[tuple[int, int]]:
    """(threshold, nearer threshold) pairs: a run ``threshold`` days away or less but more than
    the nearer threshold gets the ``threshold`` notice."""
    ordered = sorted(days, reverse=True)
    return list(zip(ordered, [*ordered[1:], 0]))


def due_notices_query(today: date, threshold: int, nearer: int):
    """Profiles owed the ``threshold`` notice today, with what the mail says."""
    card, p = PaymentMethod, AutoshipProfile
    told = exists().where(CardExpiryNotice.payment_method_id == p.payment_method_id,
                          CardExpiryNotice.profile_id == p.id,
                          CardExpiryNotice.days_ahead == threshold)
    return (select(p.id, p.name, p.next_run_date, card.id.label("card_id"), card.brand, card.last4,
                   card.exp_month, card.exp_year, User.id.label("user_id"), User.email,
                   User.first_name)
            .join(card, card.id == p.payment_method_id).join(User, User.id == p.user_id)
            .where(p.status == ProfileStatus.ACTIVE,
                   p.next_run_date > today + timedelta(days=nearer),
                   p.next_run_date <= today + timedelta(days=threshold),
                   card_expires_before_sql(card.exp_year, card.exp_month, p.next_run_date),
                   ~told)
            .order_by(p.id))


def send_card_expiry_notices(session: Session, *, today: date, base_url: str,
                             batch: int = NOTICE_BATCH) -> int:
    """Record and mail every card-expiry notice due today; returns how many were sent."""
    sent = 0
    for threshold, nearer in notice_windows():
        while True:
            rows = session.execute(due_notices_query(today, threshold, nearer).limit(batch)).all()
            if not rows:
                break
            recorded = set(session.execute(
                insert(CardExpiryNotice)
                .values([{"payment_method_id": r.card_id, "profile_id": r.id, "days_ahead": threshold,
                          "run_date": r.next_run_date} for r in rows])
                .on_conflict_do_nothing()  # told meanwhile by a twin job: not told again
                .returning(CardExpiryNotice.profile_id, CardExpiryNotice.payment_method_id)).all())
            queue_mails(session, [_notice_mail(r, threshold, base_url) for r in rows
                                  if (r.id, r.card_id) in recorded])
            sent += len(recorded)
            if len(rows) < batch:
                break
    return sent


def _notice_mail(row, threshold: int, base_url: str) -> dict:
    expiry = f"{row.exp_month:02d}/{row.exp_year % 100:02d}"
    when = day(row.next_run_date, "long_short")
    body = (f"Hello {row.first_name},\n\nthe {row.brand} ending {row.last4} on your standing order "
            f"“{row.name}” expires {expiry}, before its next shipment on {when}. Unless it gets a "
            "card that works then, that payment will fail and the shipment will wait.\n\n"
            f"Choose another card for this standing order: {card_update_link(base_url, row.id)}\n\n"
            + (f"We will remind you once more {min(NOTICE_DAYS)} days before the shipment.\n"
               if threshold > min(NOTICE_DAYS) else
               "This is the last reminder before the shipment.\n"))
    return {"user_id": row.user_id, "recipient": row.email, "body": body,
            "subject": f"Your card expires before your autoship on {day(row.next_run_date, 'day_of_month')}"}
