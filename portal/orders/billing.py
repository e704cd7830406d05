"""Charging orders through the gateway, exactly once, with retries after a decline.

Three steps, each ending in a commit by the caller (a job):

1. ``prepare_charges``: an attempt row with its idempotency key is written for each order;
2. ``call_gateway``: the gateway is called with that key (no database writes);
3. ``record_outcomes``: orders become paid, or wait for their next retry, or are cancelled
   after the last one.

A worker that dies between 2 and 3 leaves pending attempts; preparing again returns them
unchanged and the gateway, given the same keys, answers with the charges it already made.
Whoever charges again finds them: the re-run chunk job, or the cron tick
(``orders_with_stale_attempts``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.orders.models import ChargeAttempt, Order, OrderSource
from portal.orders.services import change_status
from portal.orders.states import OrderStatus
from portal.payments.gateway import GatewayUnavailable, IdempotencyConflict, PaymentDeclined, PaymentGateway
from portal.payments.models import PaymentMethod

log = logging.getLogger(__name__)

CHARGEABLE = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED)


@dataclass(frozen=True)
class Outcome:
    attempt_id: int
    result: str          # succeeded, declined or error
    charge_id: str = ""
    code: str = ""
    message: str = ""


def prepare_charges(session: Session, order_ids: list[int]) -> list[int]:
    """Attempt ids to send: a pending attempt already there, or a new one per order."""
    attempts = []
    orders = session.scalars(select(Order).where(Order.id.in_(order_ids),
                                                 Order.status.in_(CHARGEABLE))
                             .order_by(Order.id).with_for_update()).all()
    pending = {a.order_id: a for a in session.scalars(select(ChargeAttempt).where(
        ChargeAttempt.order_id.in_([o.id for o in orders]), ChargeAttempt.outcome == "pending"))}
    for order in orders:
        attempt = pending.get(order.id)
        if attempt is None:
            order.payment_attempts += 1
            attempt = ChargeAttempt(order_id=order.id, number=order.payment_attempts,
                                    idempotency_key=f"order-{order.id}-charge-{order.payment_attempts}")
            session.add(attempt)
        attempts.append(attempt)
    session.flush()
    return [a.id for a in attempts]


def call_gateway(session: Session, gateway: PaymentGateway, attempt_ids: list[int]) -> list[Outcome]:
    rows = session.execute(
        select(ChargeAttempt.id, ChargeAttempt.idempotency_key, Order.total, PaymentMethod.token)
        .join(Order, Order.id == ChargeAttempt.order_id)
        .join(PaymentMethod, PaymentMethod.id == Order.payment_method_id)
        .where(ChargeAttempt.id.in_(attempt_ids), ChargeAttempt.outcome == "pending")
        .order_by(ChargeAttempt.id)).all()
    outcomes = []
    for attempt_id, key, total, token in rows:
        if Decimal(total) == 0:  # points (or nothing) paid for all of it: no card to charge
            outcomes.append(Outcome(attempt_id, "succeeded", charge_id=""))
            continue
        try:
            charge = gateway.charge(token, Decimal(total), "USD", idempotency_key=key)
        except PaymentDeclined as declined:
            outcomes.append(Outcome(attempt_id, "declined", code=declined.code, message=declined.message))
        except (GatewayUnavailable, IdempotencyConflict) as error:
            outcomes.append(Outcome(attempt_id, "error", code=type(error).__name__, message=error.message))
        except Exception:
            # Whether it charged is unknown: the attempt stays pending, so the stale-attempt
            # sweep sends it again with the same key; the orders after it are charged now.
            log.exception("charge attempt %s: unexpected gateway failure; left pending", attempt_id)
        else:
            outcomes.append(Outcome(attempt_id, "succeeded", charge_id=charge.id))
    return outcomes


@dataclass(frozen=True)
class BillingResult:
    paid: list[int]
    declined: list[int]
    cancelled: list[int]
    errors: list[int]


def record_outcomes(session: Session, outcomes: list[Outcome], *, today: date,
                    retry_days: tuple[int, ...]) -> BillingResult:
    """Apply the gateway's answers. After a decline the next attempt is ``retry_days[n-1]``
    days later; when none is left the order is cancelled."""
    paid, declined, cancelled, errors = [], [], [], []
    by_id = {o.attempt_id: o for o in outcomes}
    # Locked, and only those still pending: two processes may have sent the same attempt (its
    # key made the gateway answer both alike); the first to record it wins, the other skips it.
    attempts = session.scalars(select(ChargeAttempt).where(ChargeAttempt.id.in_(list(by_id)),
                                                           ChargeAttempt.outcome == "pending")
                               .order_by(ChargeAttempt.id).with_for_update()).all()
    for attempt in attempts:
        outcome = by_id[attempt.id]
        order = session.get(Order, attempt.order_id)
        attempt.outcome, attempt.finished_at = outcome.result, utcnow()
        attempt.decline_code, attempt.message = outcome.code[:40], outcome.message[:300]
        if outcome.result == "succeeded":
            order.charge_id, order.paid_at, order.next_payment_retry_on = outcome.charge_id, utcnow(), None
            change_status(session, order, OrderStatus.PAID, f"charged {order.payment_label}")
            paid.append(order.id)
        elif outcome.result == "error":
            order.next_payment_retry_on = today + timedelta(days=1)
            errors.append(order.id)
        elif attempt.number <= len(retry_days):
            order.next_payment_retry_on = today + timedelta(days=retry_days[attempt.number - 1])
            if order.status != OrderStatus.PAYMENT_FAILED:
                change_status(session, order, OrderStatus.PAYMENT_FAILED, outcome.message)
            declined.append(order.id)
        else:
            order.next_payment_retry_on = None
            change_status(session, order, OrderStatus.CANCELLED,
                          f"payment failed {attempt.number} times: {outcome.message}")
            cancelled.append(order.id)
    session.flush()
    return BillingResult(paid, declined, cancelled, errors)


def orders_due_for_retry(session: Session, today: date, limit: int = 5000) -> list[int]:
    return list(session.scalars(select(Order.id).where(
        Order.status.in_(CHARGEABLE), Order.next_payment_retry_on <= today)
        .order_by(Order.id).limit(limit)))


def orders_with_stale_attempts(session: Session, written_before: datetime, limit: int = 5000) -> list[int]:
    """Orders with an attempt still pending since before ``written_before``: its worker died
    between the gateway call and recording the outcome."""
    return list(session.scalars(select(Order.id).where(
        Order.status.in_(CHARGEABLE),
        select(ChargeAttempt.id).where(ChargeAttempt.order_id == Order.id, ChargeAttempt.outcome == "pending",
                                       ChargeAttempt.created_at < written_before).exists())
        .order_by(Order.id).limit(limit)))


def uncharged_autoship_orders(session: Session, placed_before: datetime, limit: int = 5000) -> list[int]:
    """Autoship orders nobody has tried to charge yet (their charge job was lost with Redis,
    say): the cron tick charges them."""
    return list(session.scalars(select(Order.id).where(
        Order.source == OrderSource.AUTOSHIP, Order.status == OrderStatus.PENDING_PAYMENT,
        Order.payment_attempts == 0, Order.placed_at < placed_before)
        .order_by(Order.id).limit(limit)))


def autoship_orders_to_charge(session: Session, *, due_by: date,
                              profile_ids: tuple[int, int]) -> list[int]:
    """The autoship orders due by ``due_by`` of the profiles with ids between ``profile_ids``
    (both included) that are still to charge: never tried, or with an attempt left pending by
    a worker that died after the gateway call (sending it again replays its idempotency key,
    so the card is not charged twice)."""
    low, high = profile_ids
    pending_attempt = select(ChargeAttempt.id).where(ChargeAttempt.order_id == Order.id,
                                                     ChargeAttempt.outcome == "pending").exists()
    return list(session.scalars(select(Order.id).where(
        Order.source == OrderSource.AUTOSHIP, Order.autoship_due_date <= due_by,
        Order.autoship_profile_id.between(low, high),
        or_((Order.status == OrderStatus.PENDING_PAYMENT) & (Order.payment_attempts == 0),
            Order.status.in_(CHARGEABLE) & pending_attempt))
        .order_by(Order.id)))


def failed_payments():
    """The orders whose payment failed and that are not paid, as a select for a paged list:
    at least one attempt did not succeed, and the order waits for its next retry, is still to
    charge, or was cancelled after the last one. Those with a retry date first, soonest first;
    then the newest."""
    failed_attempt = select(ChargeAttempt.id).where(ChargeAttempt.order_id == Order.id,
                                                    ChargeAttempt.outcome != "succeeded").exists()
    return (select(Order)
            .where(Order.payment_attempts > 0, Order.status.in_(CHARGEABLE + (OrderStatus.CANCELLED,)),
                   failed_attempt)
            .order_by(Order.next_payment_retry_on.is_(None), Order.next_payment_retry_on,
                      Order.id.desc()))


def prepare_retry_by_member(session: Session, *, order: Order, card: PaymentMethod) -> None:
    """A member pays a declined order now, with the same or another card of theirs."""
    from portal.errors import DomainError

    if order.status not in CHARGEABLE or order.payment_attempts == 0:
        raise DomainError("This order is not waiting for a payment.")
    order.payment_method_id, order.payment_label = card.id, card.label
    order.next_payment_retry_on = None
    session.flush()
