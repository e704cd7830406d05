"""How standing orders react to what other concepts announce (their ``signals`` modules):

- a product goes on or off sale: the stored cycle PV of every standing order holding it is
  recomputed by a job after the commit (``volume.request_cycle_pv_refresh``);
- payments are recorded: members are told how their payment went, and a standing order whose
  order was cancelled after its last attempt is held (``notices.tell_payment_outcomes``).

Receivers run synchronously in the sender's unit of work. ``connect_signals`` is called from
``create_app``; connecting again is harmless (blinker keeps one connection per receiver)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from portal.autoship.notices import tell_payment_outcomes
from portal.autoship.volume import request_cycle_pv_refresh
from portal.catalog.models import Product
from portal.links import site_url
from portal.catalog.signals import product_sale_changed
from portal.orders.billing import BillingResult
from portal.orders.signals import payments_recorded


def refresh_cycle_pv_of_holders(product: Product, *, session: Session, **_) -> None:
    request_cycle_pv_refresh(session, product_id=product.id)


def tell_payment_outcomes_to_members(app: Flask, *, session: Session, result: BillingResult, **_) -> None:
    tell_payment_outcomes(session, result, base_url=site_url(app))


def connect_signals() -> None:
    product_sale_changed.connect(refresh_cycle_pv_of_holders, weak=False)
    payments_recorded.connect(tell_payment_outcomes_to_members, weak=False)
