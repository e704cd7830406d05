"""The append-only points ledger and the balance beside it.

Every write adds entries and moves ``points_accounts.balance`` by their sum in the same
statement or transaction; the balance's CHECK (>= 0) makes a negative balance impossible, and
spending is a conditional update (``balance >= points``), so two tabs spending the same points
spend them once: the second waits for the first's row lock, then finds too little.

**Expiry** is first in, first out, counted in aggregate: on day T a person's points expire by
``E - C`` (never more than the balance), where E is what they earned in lots expiring on or
before T (less what was taken back from those lots) and C is what they have spent or seen
expire so far (less what was given back). Run twice, the second run finds ``E - C`` = 0.

**Reversal.** A cancelled order gives back the points spent on it and takes back the points
it earned; a refund takes back ``ceil(earned x amount / order total)`` of them. What is taken
back is never more than the order earned, nor than the balance (points already spent are not
turned into a debt).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (Integer, String, and_, any_, bindparam, case, cast, func, literal, select, text,
                        update)
from sqlalchemy.dialects.postgresql import ARRAY, insert as pg_insert
from sqlalchemy.orm import Session

from portal.autoship.models import AutoshipProfile, ProfileStatus
from portal.clock import utcnow
from portal.errors import DomainError
from portal.loyalty.models import EntryKind, PointsAccount, PointsEntry
from portal.loyalty.rules import (PAID_STATES, Program, company_date_sql, month_index_sql,
                                  qualifying_sql)
from portal.orders.models import Order, OrderSource

_LEDGER, _ACCOUNTS, _ORDERS = PointsEntry.__table__, PointsAccount.__table__, Order.__table__


class NotEnoughPoints(DomainError):
    status = 409


def balance_of(session: Session, user_id: int) -> int:
    return session.scalar(select(PointsAccount.balance).where(PointsAccount.user_id == user_id)) or 0


def _add_to_balances(inserted):
    """An upsert adding the ``points`` of ``inserted`` (a CTE of ledger rows) to balances,
    in user order (two batches lock accounts in the same order)."""
    sums = (select(inserted.c.user_id, func.sum(inserted.c.points).label("balance"))
            .group_by(inserted.c.user_id).order_by(inserted.c.user_id))
    upsert = pg_insert(_ACCOUNTS).from_select(["user_id", "balance"], sums)
    return upsert.on_conflict_do_update(
        index_elements=[_ACCOUNTS.c.user_id],
        set_={"balance": _ACCOUNTS.c.balance + upsert.excluded.balance}).add_cte(inserted)


def award_points(session: Session, order_ids: list[int], *, program: Program, timezone: str) -> int:
    """Points for every paid standing-order order among ``order_ids`` whose person holds a
    standing order that is not cancelled, at the rate of their month count: one statement,
    whatever the number of orders. An order is awarded once (a unique index); awarding it
    again does nothing. Returns the number of people whose balance moved."""
    if not order_ids:
        return 0
    orders = _ORDERS.alias("o")
    holds = select(AutoshipProfile.id).where(AutoshipProfile.user_id == orders.c.user_id,
                                             AutoshipProfile.status != ProfileStatus.CANCELLED).exists()
    batch = (select(orders.c.id, orders.c.user_id, orders.c.subtotal, orders.c.paid_at,
                    month_index_sql(orders.c.paid_at, timezone).label("m"))
             .where(orders.c.id == any_(bindparam("order_ids", type_=ARRAY(Integer))),
                    orders.c.source == OrderSource.AUTOSHIP, orders.c.paid_at.is_not(None),
                    orders.c.status.in_(PAID_STATES), holds)).cte("batch")
    theirs = _ORDERS.alias("theirs")
    months = (select(theirs.c.user_id, month_index_sql(theirs.c.paid_at, timezone).label("m"))
              .where(theirs.c.user_id.in_(select(batch.c.user_id)), qualifying_sql(theirs, program))
              .distinct()).cte("months")
    islands = select(months.c.user_id, months.c.m, (months.c.m - func.row_number().over(
        partition_by=months.c.user_id, order_by=months.c.m)).label("g")).cte("islands")
    runs = select(islands.c.user_id, islands.c.m, func.row_number().over(
        partition_by=(islands.c.user_id, islands.c.g), order_by=islands.c.m).label("n")).cte("runs")
    this, last = runs.alias("this_month"), runs.alias("last_month")
    count = func.coalesce(this.c.n, last.c.n, 0)
    rate = program.rate_sql(func.greatest(count, 1))
    points = program.points_earned_sql(batch.c.subtotal, rate)
    rows = (select(batch.c.user_id, literal(EntryKind.EARNED, String).label("kind"),
                   points.label("points"), batch.c.id.label("order_id"), batch.c.paid_at.label("at"),
                   program.expires_on_sql(company_date_sql(batch.c.paid_at, timezone)).label("expires_on"),
                   rate.label("rate"), cast(count, Integer).label("streak_months"))
            .select_from(batch.outerjoin(this, and_(this.c.user_id == batch.c.user_id, this.c.m == batch.c.m))
                         .outerjoin(last, and_(last.c.user_id == batch.c.user_id, last.c.m == batch.c.m - 1)))
            .where(points > 0))
    columns = ["user_id", "kind", "points", "order_id", "at", "expires_on", "rate", "streak_months"]
    inserted = (pg_insert(_LEDGER).from_select(columns, rows)
                # The partial index's predicate written out: as a bound parameter it would not
                # match the index once the driver prepares the statement (after a few runs).
                .on_conflict_do_nothing(index_elements=[_LEDGER.c.order_id],
                                        index_where=text("kind = 'earned'"))
                .returning(_LEDGER.c.user_id, _LEDGER.c.points).cte("inserted"))
    if len(order_ids) > 1000:  # a run's batch: its sorts of everyone's months stay in memory
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    result = session.execute(_add_to_balances(inserted).returning(_ACCOUNTS.c.user_id),
                             {"order_ids": list(order_ids)})
    return len(result.all())


def lock_account(session: Session, user_id: int) -> int:
    """The person's balance, their account row locked (created empty when missing)."""
    session.execute(pg_insert(_ACCOUNTS).values(user_id=user_id, balance=0).on_conflict_do_nothing())
    return session.scalar(select(PointsAccount.balance).where(PointsAccount.user_id == user_id)
                          .with_for_update())


def _append(session: Session, *, user_id: int, kind: str, points: int, order_id: int | None = None,
            at: datetime | None = None, expires_on: date | None = None, note: str = "") -> None:
    session.add(PointsEntry(user_id=user_id, kind=kind, points=points, order_id=order_id,
                            at=at or utcnow(), expires_on=expires_on, note=note[:200]))
    session.execute(update(_ACCOUNTS).where(_ACCOUNTS.c.user_id == user_id)
                    .values(balance=_ACCOUNTS.c.balance + points))
    session.flush()


def redeem_points(session: Session, *, user_id: int, points: int, order_id: int, note: str) -> int:
    """Spend ``points`` on an order; NotEnoughPoints when the balance does not cover them (also
    when another tab spent them a moment ago). Returns the balance left."""
    if points <= 0:
        raise ValueError("redeem a positive number of points")
    left = session.scalar(update(_ACCOUNTS).where(_ACCOUNTS.c.user_id == user_id,
                                                  _ACCOUNTS.c.balance >= points)
                          .values(balance=_ACCOUNTS.c.balance - points).returning(_ACCOUNTS.c.balance))
    if left is None:
        raise NotEnoughPoints(f"You do not have {points:,} points to spend: your balance is "
                              f"{balance_of(session, user_id):,} points.")
    session.add(PointsEntry(user_id=user_id, kind=EntryKind.REDEEMED, points=-points,
                            order_id=order_id, at=utcnow(), note=note[:200]))
    session.flush()
    return left


@dataclass(frozen=True)
class OrderPoints:
    earned: int            # awarded on the order
    earned_expires: date | None
    taken_back: int        # reversed from what it earned so far (positive)
    spent: int             # redeemed on it (positive)
    given_back: int        # returned of what was spent (positive)


def order_points(session: Session, order_id: int) -> OrderPoints:
    entries = session.scalars(select(PointsEntry).where(PointsEntry.order_id == order_id)).all()
    earned = [e for e in entries if e.kind == EntryKind.EARNED]
    return OrderPoints(
        earned=sum(e.points for e in earned),
        earned_expires=earned[0].expires_on if earned else None,
        taken_back=-sum(e.points for e in entries if e.kind == EntryKind.REVERSED and e.points < 0),
        spent=-sum(e.points for e in entries if e.kind == EntryKind.REDEEMED),
        given_back=sum(e.points for e in entries if e.kind == EntryKind.REVERSED and e.points > 0))


def reverse_order(session: Session, order: Order, *, refunded: Decimal | None = None,
                  at: datetime | None = None) -> int:
    """Undo an order's points: all of them when it was cancelled (``refunded`` None: points
    spent on it come back too), or the refunded share of what it earned. Returns the change
    to the balance."""
    known = order_points(session, order.id)
    if not (known.earned or known.spent):
        return 0
    balance = lock_account(session, order.user_id)
    change = 0
    if refunded is None and known.spent > known.given_back:
        back = known.spent - known.given_back
        _append(session, user_id=order.user_id, kind=EntryKind.REVERSED, points=back, order_id=order.id,
                at=at, note=f"order {order.number} cancelled: points spent on it given back")
        balance, change = balance + back, back
    remaining = known.earned - known.taken_back
    if refunded is None:
        share = remaining
    elif Decimal(order.total) > 0:
        share = math.ceil(known.earned * Decimal(refunded) / Decimal(order.total))
    else:
        share = 0
    take = min(share, remaining, balance)
    if take > 0:
        reason = "cancelled" if refunded is None else f"refunded {refunded}"
        _append(session, user_id=order.user_id, kind=EntryKind.REVERSED, points=-take, order_id=order.id,
                at=at, expires_on=known.earned_expires,
                note=f"order {order.number} {reason}: points it earned taken back")
        change -= take
    return change


def expire_points(session: Session, *, today: date) -> int:
    """Expire what is due on or before ``today`` for everyone, set-based (see the module);
    idempotent. Returns the number of people whose points expired."""
    lots = (select(_LEDGER.c.user_id).where(_LEDGER.c.expires_on <= today).distinct())
    # Their accounts locked first, in one order, so no spending slips in between.
    session.execute(select(_ACCOUNTS.c.user_id).where(_ACCOUNTS.c.user_id.in_(lots))
                    .order_by(_ACCOUNTS.c.user_id).with_for_update())
    due = func.sum(case((_LEDGER.c.expires_on <= today, _LEDGER.c.points), else_=0))
    used = -func.sum(case((_LEDGER.c.expires_on.is_(None), _LEDGER.c.points), else_=0))
    per_person = (select(_LEDGER.c.user_id, (due - used).label("amount"))
                  .where(_LEDGER.c.user_id.in_(lots)).group_by(_LEDGER.c.user_id)
                  .having(due > used)).cte("per_person")
    amount = func.least(per_person.c.amount, _ACCOUNTS.c.balance)
    rows = (select(per_person.c.user_id, literal(EntryKind.EXPIRED, String), -amount, literal(utcnow()),
                   literal(f"expired on or before {today.isoformat()}", String))
            .join(_ACCOUNTS, _ACCOUNTS.c.user_id == per_person.c.user_id).where(amount > 0))
    inserted = (pg_insert(_LEDGER).from_select(["user_id", "kind", "points", "at", "note"], rows)
                .returning(_LEDGER.c.user_id, _LEDGER.c.points).cte("inserted"))
    # An UPDATE, not the award's upsert: PostgreSQL checks an upsert's proposed row (a negative
    # balance) before it finds the conflict.
    sums = (select(inserted.c.user_id, func.sum(inserted.c.points).label("points"))
            .group_by(inserted.c.user_id)).subquery("sums")
    moved = (update(_ACCOUNTS).where(_ACCOUNTS.c.user_id == sums.c.user_id)
             .values(balance=_ACCOUNTS.c.balance + sums.c.points).add_cte(inserted)
             .returning(_ACCOUNTS.c.user_id))
    return len(session.execute(moved).all())
