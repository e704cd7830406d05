""""Add to my next autoship" on product pages and catalog cards, its answer, and removing a
one-time line from a standing order's page. The rules are in ``portal.autoship.one_time``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import request

from portal.autoship import one_time, page_views
from portal.autoship.forms import NextShipmentForm
from portal.autoship.models import AutoshipOneTimeLine, AutoshipProfile
from portal.clock import company_today
from portal.errors import NotFound
from portal.extensions import db
from portal.forms import form_messages
from portal.orders.pricing import shipping_rule
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("next_shipment", __name__, url_prefix="/autoship")

SHOPPER_ROLES = ("member", "ibo")


@dataclass(frozen=True)
class NextShipmentPanel:
    """What the product pages need to show "Add to my next autoship": the person's standing
    orders open for changes, soonest first (the button names the soonest's date; with several,
    the person chooses)."""

    choices: list[AutoshipProfile]

    @property
    def soonest(self) -> AutoshipProfile:
        return self.choices[0]

    @staticmethod
    def new_key() -> str:
        """A fresh idempotency key for each rendered button (1-Click's kind of key)."""
        return secrets.token_urlsafe(18)


def panel_here() -> NextShipmentPanel | None:
    """The panel for the item pages of this request; None (no button) for anyone without a
    standing order open for changes."""
    if not current_user.is_authenticated or current_user.role not in SHOPPER_ROLES:
        return None
    choices = one_time.shipment_choices(db.session, current_user, company_today(), page_views.rules_now())
    return NextShipmentPanel(choices) if choices else None


def _refused(status: int, message: str):
    return render("errors/error.html", "errors/_error.html", status=status, title="Not added",
                  message=message)


@bp.post("/next-shipment")
@login_required
@shopper_required
def add():
    """One press: the item as a one-time line of the next shipment, or the choice of shipment."""
    form = NextShipmentForm()
    if not form.validate_on_submit():
        return _refused(422, form_messages(form))
    shipping = shipping_rule(current_app.config)
    with refusal() as refused:
        outcome = one_time.add_to_next_shipment(
            db.session, user=current_user, product_id=form.product_id.data, unit_code=form.unit.data,
            quantity=form.quantity.data or 1, idempotency_key=form.idempotency_key.data,
            profile_id=form.profile.data, today=company_today(), rules=page_views.rules_now(),
            shipping=shipping)
    if refused:
        return _refused(refused.status, refused.message)
    if isinstance(outcome, one_time.ShipmentChoice):
        return render("autoship/next_shipment_choice.html", "autoship/_next_shipment_choice.html",
                      choice=outcome, product=outcome.product, form=form)
    if request.htmx:
        return render("autoship/_next_shipment_added.html", added=outcome, compact=form.compact.data,
                      shipping=shipping, next_key=NextShipmentPanel.new_key())
    return redirect(url_for("next_shipment.added", key=form.idempotency_key.data), 303)


@bp.get("/next-shipment/<key>")
@login_required
@shopper_required
def added(key: str):
    """The answer a plain form submission is redirected to: the line and the shipment now."""
    line = db.session.scalar(db.select(AutoshipOneTimeLine).where(AutoshipOneTimeLine.idempotency_key == key[:80]))
    if line is None or line.added_by != current_user.id:
        raise NotFound("We could not find that addition.")
    shipping = shipping_rule(current_app.config)
    profile = db.session.get(AutoshipProfile, line.profile_id)
    return render("autoship/next_shipment_added.html",
                  added=one_time.Added(line=line, shipment=one_time.next_shipment(profile, shipping),
                                       repeat=True),
                  compact=False, shipping=shipping, next_key=None)


@bp.post("/<int:profile_id>/one-time/<int:line_id>/remove")
@login_required
@shopper_required
def remove(profile_id: int, line_id: int):
    """Take a one-time line out of the next shipment (until the cutoff)."""
    return page_views.act(profile_id, lambda p: one_time.remove_one_time_line(
        db.session, user=current_user, profile=p, line_id=line_id, today=company_today(),
        rules=page_views.rules_now()),
        lambda line: f"{line.product.name} is no longer in the next shipment.")
