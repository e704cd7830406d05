"""The attention list: standing orders in a downline that need a word from their upline (a
failed payment, a schedule the engine set aside, a card that expires before the next run, too
little PV, an item out of stock or no longer sold, a recent cancellation or pause), each with
its reasons, in tree order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import User
from portal.autoship.models import (AutoshipEvent, AutoshipItem, AutoshipProfile,
                                    ProfileStatus)
from portal.catalog.models import Product, ProductUnit, StockLevel
from portal.downline.paging import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from portal.downline.statuses import TeamPerson, stored_pv
from portal.genealogy.queries import downline_bounds
from portal.orders.models import ChargeAttempt, Order
from portal.payments.models import PaymentMethod
from portal.payments.rules import card_expires_before_sql

RECENT_DAYS = 30
ATTENTION_REASONS = {
    "payment": "Last payment failed",
    "schedule": "Needs a new schedule: none of its dates can be planned",
    "card": "Card expires before the next run",
    "min_pv": "Below the minimum PV",
    "stock": "An item is out of stock",
    "inactive": "An item is no longer sold",
    "cancelled": f"Cancelled in the last {RECENT_DAYS} days",
    "paused": f"Paused in the last {RECENT_DAYS} days",
}


@dataclass(frozen=True)
class AttentionRow(TeamPerson):
    profile_id: int
    profile_name: str
    status: str
    next_run: date | None
    person_id: int
    member_number: str
    first_name: str
    last_name: str
    level: int
    tree_path: str
    reasons: list[str]


@dataclass(frozen=True)
class AttentionPage:
    rows: list[AttentionRow]
    next_cursor: str | None


def _reasons(p, *, since: datetime, min_pv: Decimal) -> dict:
    """Each reason of ``ATTENTION_REASONS`` as a condition on the profile ``p``."""
    declined = (exists().where(Order.autoship_profile_id == p.id, ChargeAttempt.order_id == Order.id,
                               ChargeAttempt.outcome == "declined", ChargeAttempt.created_at >= since))
    card = aliased(PaymentMethod)
    card_expires = and_(
        p.status == ProfileStatus.ACTIVE, p.next_run_date.is_not(None),
        exists().where(card.id == p.payment_method_id,
                       card_expires_before_sql(card.exp_year, card.exp_month, p.next_run_date)))
    cycle_pv = func.coalesce(stored_pv(p), 0)
    min_hundredths = int(Decimal(min_pv) * 100)
    below_min = (and_(p.status == ProfileStatus.ACTIVE, cycle_pv < min_hundredths)
                 if min_hundredths > 0 else false())
    i3, u3 = aliased(AutoshipItem), aliased(ProductUnit)
    out_of_stock = and_(p.status.in_((ProfileStatus.ACTIVE, ProfileStatus.PAUSED)), exists().where(
        i3.profile_id == p.id, u3.product_id == i3.product_id, u3.code == i3.unit_code,
        StockLevel.product_id == i3.product_id,
        StockLevel.on_hand - StockLevel.allocated < i3.quantity * u3.eaches_per_unit))
    i4, u4, pr4 = aliased(AutoshipItem), aliased(ProductUnit), aliased(Product)
    inactive = and_(p.status != ProfileStatus.CANCELLED, exists().where(
        i4.profile_id == p.id, pr4.id == i4.product_id,
        ~and_(pr4.active.is_(True), exists().where(u4.product_id == i4.product_id,
                                                   u4.code == i4.unit_code, u4.active.is_(True)))))
    return {
        "payment": or_(p.status == ProfileStatus.PAYMENT_FAILED, declined),
        "schedule": p.status == ProfileStatus.UNPLANNABLE,
        "card": card_expires,
        "min_pv": below_min,
        "stock": out_of_stock,
        "inactive": inactive,
        "cancelled": and_(p.status == ProfileStatus.CANCELLED, p.cancelled_at >= since),
        "paused": and_(p.status == ProfileStatus.PAUSED, or_(
            p.updated_at >= since,
            exists().where(AutoshipEvent.profile_id == p.id, AutoshipEvent.action == "paused",
                           AutoshipEvent.at >= since))),
    }


def attention_page(session: Session, ancestor: User, *, today: date, min_pv: Decimal,
                   cursor: str | None = None, size: int = 50) -> AttentionPage:
    """Downline profiles that need a word from their upline, in tree order (then profile id),
    each with its reasons. One statement per page."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    since_day = today - timedelta(days=RECENT_DAYS)
    since = datetime.combine(since_day, datetime.min.time(), tzinfo=timezone.utc)
    person, p = aliased(User), aliased(AutoshipProfile)
    low, high = downline_bounds(ancestor.tree_path)
    flags = _reasons(p, since=since, min_pv=min_pv)
    level = (person.depth - ancestor.depth).label("level")
    query = (select(p.id, p.name, p.status, p.next_run_date, person.id, person.member_number,
                    person.first_name, person.last_name, level, person.tree_path,
                    *(case((condition, 1), else_=0).label(name) for name, condition in flags.items()))
             .join(person, person.id == p.user_id)
             .where(person.tree_path > low, person.tree_path < high, or_(*flags.values())))
    if cursor:
        key, profile_id = decode_cursor("tree", cursor)
        query = query.where(tuple_(person.tree_path, p.id) > tuple_(literal(key), literal(profile_id)))
    result = session.execute(query.order_by(person.tree_path, p.id).limit(size + 1)).all()
    rows = [AttentionRow(profile_id=r[0], profile_name=r[1], status=r[2], next_run=r[3],
                         person_id=r[4], member_number=r[5], first_name=r[6], last_name=r[7],
                         level=r[8], tree_path=r[9],
                         reasons=[ATTENTION_REASONS[name] for name, flag in zip(flags, r[10:]) if flag])
            for r in result]
    more = len(rows) > size
    rows = rows[:size]
    return AttentionPage(rows=rows, next_cursor=encode_cursor("tree", rows[-1].tree_path,
                                                              rows[-1].profile_id) if more else None)
