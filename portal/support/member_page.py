"""A member's whole story on one page, for the staff: one section per concern, each a partial
template fed by one small query function.

A section is ``Section(name, title, template, load)``; ``load(view)`` returns the partial's
context. More concerns join by adding a ``Section`` to ``SECTIONS`` where they belong on the
page (a refunds list, loyalty points, the rank and volume of the period beside the sponsor,
tracking numbers beside the orders), without touching the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.accounts.login_sessions import login_sessions_of
from portal.accounts.models import AuditEntry, User
from portal.addresses.services import address_book
from portal.autoship import profiles as autoship_profiles
from portal.autoship.queries import profiles_of, summarize
from portal.genealogy.queries import downline_size
from portal.mail.models import OutboxMessage
from portal.oneclick.models import OneClickSetting
from portal.orders.models import ChargeAttempt, Order
from portal.orders.pricing import shipping_rule
from portal.payments.services import wallet
from portal.loyalty.queries import points_statement
from portal.orders.models import Refund
from portal.support.models import StaffNote
from portal.volume.periods import current_period
from portal.volume.standing import standing_of

LISTED = 20  # rows per list section: the newest


@dataclass(frozen=True)
class MemberView:
    """What every section's query gets."""

    session: Session
    member: User
    today: date
    now: datetime
    config: object


@dataclass(frozen=True)
class Section:
    name: str       # the anchor (#orders) and the partial's name
    title: str
    template: str
    load: Callable[[MemberView], dict]


def identity(view: MemberView) -> dict:
    """Who they are, their sponsor, this period's volume and rank, where they are signed in,
    their addresses."""
    member = view.member
    return {"sponsor": member.sponsor,
            "standing": standing_of(view.session, member, current_period(view.config)),
            "downline": downline_size(view.session, member) if member.is_ibo else None,
            "signed_in": len(login_sessions_of(view.session, member, now=view.now)),
            "addresses": address_book(view.session, member)}


def standing_orders(view: MemberView) -> dict:
    """Every standing order with its next runs, as the member's own list shows them."""
    found = profiles_of(view.session, view.member)
    rules = autoship_profiles.AutoshipRules.from_config(view.config)
    ordered = autoship_profiles.last_ordered_dates(view.session, [p.id for p in found])
    return {"summaries": [summarize(p, view.today, rules, shipping_rule(view.config), 3,
                                    last_ordered=ordered.get(p.id)) for p in found]}


def orders(view: MemberView) -> dict:
    total = view.session.scalar(select(func.count()).select_from(Order)
                                .where(Order.user_id == view.member.id))
    return {"orders": list(view.session.scalars(
        select(Order).where(Order.user_id == view.member.id)
        .order_by(Order.placed_at.desc(), Order.id.desc()).limit(LISTED))), "total": total}


def payments(view: MemberView) -> dict:
    """The cards on file (labels only) and the newest charge attempts, declines included."""
    attempts = view.session.execute(
        select(ChargeAttempt, Order).join(Order, Order.id == ChargeAttempt.order_id)
        .where(Order.user_id == view.member.id)
        .order_by(ChargeAttempt.created_at.desc(), ChargeAttempt.id.desc()).limit(LISTED)).all()
    return {"cards": wallet(view.session, view.member), "attempts": attempts}


def refunds(view: MemberView) -> dict:
    """The newest refunds of the member's orders, pending and refused ones included."""
    return {"refunds": view.session.execute(
        select(Refund, Order).join(Order, Order.id == Refund.order_id)
        .where(Order.user_id == view.member.id)
        .order_by(Refund.at.desc(), Refund.id.desc()).limit(LISTED)).all()}


def points(view: MemberView) -> dict:
    """The loyalty balance, rate and streak, and the newest ledger entries."""
    return {"statement": points_statement(view.session, view.member.id,
                                          timezone=view.config["COMPANY_TIMEZONE"], limit=LISTED)}


def mail(view: MemberView) -> dict:
    return {"messages": list(view.session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == view.member.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(LISTED)))}


def oneclick(view: MemberView) -> dict:
    return {"settings": list(view.session.scalars(
        select(OneClickSetting).where(OneClickSetting.user_id == view.member.id)
        .order_by(OneClickSetting.disabled_at.is_not(None), OneClickSetting.enabled_at.desc())
        .limit(LISTED)))}


def notes(view: MemberView) -> dict:
    return {"notes": list(view.session.scalars(
        select(StaffNote).where(StaffNote.member_id == view.member.id)
        .order_by(StaffNote.at.desc(), StaffNote.id.desc()).limit(50)))}


def audit(view: MemberView) -> dict:
    return {"entries": list(view.session.scalars(
        select(AuditEntry).where(AuditEntry.member_id == view.member.id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(50)))}


SECTIONS: list[Section] = [
    Section("identity", "Member", "support/_identity.html", identity),
    Section("standing-orders", "Standing orders", "support/_standing_orders.html", standing_orders),
    Section("orders", "Orders", "support/_orders.html", orders),  # tracking: a column of it
    Section("payments", "Payments and declines", "support/_payments.html", payments),
    Section("refunds", "Refunds", "support/_refunds.html", refunds),
    Section("points", "Loyalty points", "support/_points.html", points),
    Section("mail", "Mail sent", "support/_mail.html", mail),
    Section("oneclick", "1-Click browsers", "support/_oneclick.html", oneclick),
    Section("notes", "Staff notes", "support/_notes.html", notes),
    Section("audit", "Audit log", "support/_audit.html", audit),
]


def member_by_number(session: Session, member_number: str) -> User | None:
    return session.scalar(select(User).where(User.member_number == member_number[:12]))


def load_sections(view: MemberView, only: str | None = None) -> list[tuple[Section, dict]]:
    """(section, its context) for every section, or for the one named ``only``."""
    return [(section, section.load(view)) for section in SECTIONS
            if only is None or section.name == only]
