"""Refunds on the admin order page: the form (everything left, or by line and quantity, with
restock and a reason), its confirmation showing the amounts, and "Try again" for a refund the
gateway did not answer. Admins refund without a limit of their own; support refunds up to
``SUPPORT_REFUND_LIMIT`` per refund (``portal.roles.refund_limit``), which the service enforces."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_login import current_user
from htmx_flask import request

from portal.confirmations import ask_first, confirmed
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.formatting import counted, money, volume
from portal.forms import CONTROL_CHARACTERS
from portal.links import site_url
from portal.numbers import parse_whole_number
from portal.orders.models import Order
from portal.orders.refund_amounts import LineLeft, RefundPlan, RefundRequest, lines_left, shipping_left
from portal.orders.refunds import REFUNDABLE, REASON_MAX, preview_refund, refund_order, retry_refund
from portal.payments.services import gateway_for
from portal.roles import refund_limit as role_refund_limit, staff_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("refunds", __name__, url_prefix="/admin/orders")


@bp.before_request
@staff_required
def only_staff():
    return None


def refund_limit() -> Decimal | None:
    """The most the person may refund at once: admins have no limit, support a configured one."""
    return role_refund_limit(current_user, current_app.config)


@dataclass(frozen=True)
class RefundPanel:
    """What the admin order page shows for refunds."""

    key: str                  # this form's idempotency key: a double click refunds once
    lines: list[LineLeft]
    shipping_left: Decimal
    refundable: bool
    values: dict              # what was typed, shown again after a refusal
    errors: dict


def refund_panel(order: Order, values: dict | None = None, errors: dict | None = None) -> RefundPanel:
    """The panel of ``order``: a fresh form (a new key), or the one refused, with its messages."""
    values = values or {}
    return RefundPanel(key=values.get("key") or secrets.token_urlsafe(24), lines=lines_left(order),
                       shipping_left=shipping_left(order),
                       refundable=order.status in REFUNDABLE and bool(order.charge_id),
                       values=values, errors=errors or {})


def _posted(order: Order) -> tuple[RefundRequest, dict, dict]:
    """The form read: the request, what was typed, and messages by field."""
    form = request.form
    values = {"key": form.get("key", "")[:100], "mode": form.get("mode", "lines"),
              "restock": form.get("restock") == "1", "reason": form.get("reason", "")[:1000]}
    errors: dict[str, str] = {}
    quantities: dict[int, int] = {}
    for entry in lines_left(order):
        line = entry.line
        raw = form.get(f"quantity_{line.id}", "").strip()
        values[f"quantity_{line.id}"] = raw[:20]
        if not raw or values["mode"] == "everything":
            continue
        quantity = parse_whole_number(raw)
        if quantity is None or quantity < 0 or quantity > line.quantity:
            errors[f"quantity_{line.id}"] = f"A quantity from 0 to {entry.left} (left to refund)."
        elif quantity:
            quantities[line.id] = quantity
    if CONTROL_CHARACTERS.search(values["reason"]):
        errors["reason"] = "Remove the control characters from this field."
    elif not values["reason"].strip():
        errors["reason"] = "Say why this is refunded: the member reads it."
    elif len(values["reason"].strip()) > REASON_MAX:
        errors["reason"] = f"Keep the reason under {REASON_MAX} characters."
    return RefundRequest(quantities, everything=values["mode"] == "everything"), values, errors


def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound("No such order.")
    return order


def _page(order: Order, panel: RefundPanel, status: int):
    return render("orders/detail.html", order=order, confirmation=False, admin_view=True,
                  refund=panel, status=status)


def _consequences(order: Order, plan: RefundPlan, restock: bool, reason: str) -> list[str]:
    said = [f"{money(plan.amount)} goes back to the member's {order.payment_label}, through the "
            "payment gateway, now."]
    said += [f"{line.quantity} × {line.line.name} ({line.line.unit_code}): {money(line.amount)}, "
             f"{volume(line.pv)} PV" for line in plan.lines]
    if plan.shipping:
        said.append(f"Shipping fee: {money(plan.shipping)}.")
    said.append(f"{volume(plan.pv)} PV and {volume(plan.bv)} BV leave the order's volume.")
    unsent = sum(line.unsent_eaches for line in plan.lines)
    if unsent:
        said.append(f"Not shipped yet, so taken out of what ships: {counted(unsent, 'each', 'eaches')}.")
    if restock:
        said.append(f"Back on hand (restock): {counted(plan.restocked_eaches, 'each', 'eaches')} "
                    "that had shipped." if plan.restocked_eaches
                    else "Nothing to restock: no refunded each has shipped.")
    said.append(f"The member is told by mail. Reason: {reason}")
    return said


@bp.post("/<int:order_id>/refunds")
def create(order_id: int):
    """Refund once per form: without ``confirm=yes`` the amounts are shown first."""
    order = _order(order_id)
    wanted, values, errors = _posted(order)
    if errors:
        return _page(order, refund_panel(order, {**values, "key": ""}, errors), 422)
    reason = " ".join(values["reason"].split())
    if not confirmed():
        with refusal() as refused:
            plan = preview_refund(db.session, order=order, request=wanted, restock=values["restock"])
        if refused:
            return _refused(order_id, values, refused.error)
        fields = {name: str(value) for name, value in values.items()
                  if name.startswith("quantity_") and value}
        fields.update(key=values["key"], mode=values["mode"], reason=reason)
        if values["restock"]:
            fields["restock"] = "1"
        return ask_first(title=f"Refund {money(plan.amount)} on order {order.number}?",
                         consequences=_consequences(order, plan, values["restock"], reason),
                         action=url_for("refunds.create", order_id=order.id),
                         button=f"Yes, refund {money(plan.amount)}",
                         back=url_for("admin.order", order_id=order.id),
                         back_label="No, go back", fields=fields)
    with refusal() as refused:
        made = refund_order(db.session, gateway_for(), actor=current_user, order_id=order.id,
                            idempotency_key=values["key"], request=wanted,
                            restock=values["restock"], reason=reason, limit=refund_limit(),
                            site_url=site_url())
    if refused:
        return _refused(order_id, values, refused.error)
    flash(f"Refund {made.number}: {money(made.amount)} went back to the member's "
          f"{order.payment_label}.", "success")
    return redirect(url_for("admin.order", order_id=order_id), 303)


@bp.post("/<int:order_id>/refunds/<int:refund_id>/retry")
def retry(order_id: int, refund_id: int):
    """Send a refund the gateway did not answer again, with its own key."""
    with refusal() as refused:
        made = retry_refund(db.session, gateway_for(), order_id=order_id, refund_id=refund_id,
                            site_url=site_url())
    if refused:
        return _refused(order_id, {}, refused.error)
    flash(f"Refund {made.number}: {made.status_label.lower()}.", "success")
    return redirect(url_for("admin.order", order_id=order_id), 303)


def _refused(order_id: int, values: dict, error: DomainError):
    """The order page again, as it is now, with the refusal beside its field or on top."""
    order = _order(order_id)
    values = {**values, "key": ""}  # a new form: the old key may name a refund already
    shown = {f"quantity_{entry.line.id}" for entry in lines_left(order) if entry.left}
    if error.field in shown | {"reason"}:
        panel = refund_panel(order, values, {error.field: error.message})
    else:  # no field of the form now shows it (the line was refunded meanwhile): on top
        flash(error.message, "error")
        panel = refund_panel(order, values)
    current_app.logger.info("refund on order %s refused: %s", order_id, error.message)
    return _page(order, panel, error.status)

