"""Charging orders: the standing orders' charges, their retries, and a member's "Pay now".

Each order is charged exactly once (see ``portal.orders.billing``): its attempt row, carrying the
idempotency key the gateway is sent, is committed before the gateway is called, and the gateway's
answers are committed as soon as they are recorded. A worker that dies between the two leaves a
pending attempt, which the payment retries send again with the same key: the card is not charged
twice. The views, the jobs, the CLI and the admin pages all charge through ``charge``.

Once the answers are recorded, ``charge`` announces them (``portal.orders.signals``): standing
orders tell the members and hold those whose payment finally failed, fulfilment plans the paid
orders. The receivers write in the same transaction, committed with the answers.
"""

from __future__ import annotations

from datetime import date

from flask import Flask
from rq import Retry
from sqlalchemy.orm import Session

from portal.errors import DomainError, NotFound
from portal.hold_points import AFTER_GATEWAY_CALL, hold_point
from portal.orders.billing import (
    CHARGEABLE,
    BillingResult,
    call_gateway,
    prepare_charges,
    record_outcomes,
)
from portal.orders.models import Order
from portal.orders.signals import charges_preparing, orders_paid, payments_recorded
from portal.payments.services import gateway_for
from portal.unit_of_work import commit_before, release_before

# The charge jobs' retries are safe: a re-run sends a pending attempt again with its own key.
CHARGE_RETRY = Retry(max=3, interval=[5, 60, 300])


def retry_days(config) -> tuple[int, ...]:
    """The days after a decline on which the card is tried again (PAYMENT_RETRY_DAYS)."""
    return tuple(int(day) for day in str(config["PAYMENT_RETRY_DAYS"]).split(",") if day.strip())


def charge(app: Flask, session: Session, order_ids: list[int], today: date) -> BillingResult:
    """Charge orders exactly once each. Commits in the middle of the caller's unit of work, twice:
    what the caller wrote before is committed with the attempts."""
    charges_preparing.send(app, session=session, order_ids=order_ids)
    attempt_ids = prepare_charges(session, order_ids)
    commit_before(session, "the gateway is called")
    outcomes = call_gateway(session, gateway_for(app), attempt_ids)
    release_before(session, "the outcomes are recorded")  # the gateway call wrote nothing here
    hold_point(app, AFTER_GATEWAY_CALL)
    result = record_outcomes(session, outcomes, today=today, retry_days=retry_days(app.config))
    payments_recorded.send(app, session=session, result=result)
    if result.paid:
        orders_paid.send(app, session=session, order_ids=result.paid)
    commit_before(session, "the caller goes on: the gateway's answers are kept whatever follows")
    return result


class NothingToCharge(DomainError):
    """The order is not waiting for a payment (paid, cancelled, shipped...)."""


def retry_charge(app: Flask, session: Session, order_id: int, today: date) -> tuple[Order, BillingResult]:
    """An admin's retry of a failed payment: the order charged again now, through ``charge``.
    NotFound for an unknown order, NothingToCharge for one that waits for no payment."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.")
    if order.status not in CHARGEABLE:
        raise NothingToCharge(f"Order {order.number} is {order.status_label.lower()}: nothing to charge.")
    return order, charge(app, session, [order.id], today)

