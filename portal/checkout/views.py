from __future__ import annotations

import secrets

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from portal.clock import company_today
from portal.addresses.services import address_book
from portal.cart.services import priced_cart
from portal.checkout.forms import CheckoutForm
from portal.checkout.services import CartCheckedOut, check_out
from portal.extensions import db
from portal.checkout.points_views import checkout_points
from portal.hold_points import CHECKOUT_BEFORE_COMMIT, hold_point
from portal.orders.pricing import shipping_rule, totals
from portal.payments.services import gateway_for, wallet
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("checkout", __name__, url_prefix="/checkout")


def _render(form: CheckoutForm, status: int = 200):
    addresses = address_book(db.session, current_user)
    cards = wallet(db.session, current_user)
    form.address_id.choices = [SelectChoice(a.id, a.moniker) for a in addresses]
    form.card_id.choices = [SelectChoice(c.id, c.label) for c in cards]
    if form.address_id.data is None and addresses:
        form.address_id.data = addresses[0].id
    if form.card_id.data is None and cards:
        form.card_id.data = cards[0].id
    form.idempotency_key.data = secrets.token_urlsafe(24)  # a new attempt each render
    priced, problems = priced_cart(db.session, current_user)
    points = checkout_points(priced, set(form.points_items.data or ()))
    return render("checkout/checkout.html", status=status, form=form, addresses=addresses,
                  cards=cards, lines=priced, problems=problems, today=company_today(),
                  summary=totals(points.payment.lines, shipping_rule(current_app.config)), points=points)


@bp.get("/")
@login_required
@shopper_required
def start():
    return _render(CheckoutForm(formdata=None))


@bp.post("/")
@login_required
@shopper_required
def place():
    form = CheckoutForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    with refusal(form) as refused:
        try:
            order = check_out(db.session, user=current_user, address_id=form.address_id.data,
                              card_id=form.card_id.data, idempotency_key=form.idempotency_key.data,
                              gateway=gateway_for(), shipping=shipping_rule(current_app.config),
                              today=company_today(),
                              points_items=frozenset(form.points_items.data or ()))
        except CartCheckedOut as done:
            # Another device's submission placed the order: this one answers with it.
            flash(done.message, "info")
            return redirect(url_for("orders.confirmation", order_id=done.order.id), 303)
    if refused:
        return _render(form, refused.status)
    hold_point(current_app, CHECKOUT_BEFORE_COMMIT)  # charged, not yet committed (at the edge)
    return redirect(url_for("orders.confirmation", order_id=order.id), 303)
