"""How fulfilment reacts to what other concepts announce: orders paid by a charge ask for a
planning run after the commit (``request_planning``), as a paid checkout does.

The receiver runs synchronously in the sender's unit of work. ``connect_signals`` is called
from ``create_app``; connecting again is harmless (blinker keeps one connection per receiver)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from portal.fulfilment.coordination import request_planning
from portal.orders.signals import orders_paid


def plan_paid_orders(app: Flask, *, session: Session, order_ids: list[int], **_) -> None:
    request_planning(session, "autoship payment")


def connect_signals() -> None:
    orders_paid.connect(plan_paid_orders, weak=False)
