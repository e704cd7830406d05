from __future__ import annotations


from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from portal.clock import company_today
from portal.extensions import db
from portal.payments import services
from portal.payments.forms import CardForm
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("payments", __name__, url_prefix="/wallet")


@bp.get("/")
@login_required
@shopper_required
def wallet():
    return render("payments/wallet.html", cards=services.wallet(db.session, current_user),
                  today=company_today())


@bp.route("/new", methods=["GET", "POST"])
@login_required
@shopper_required
def new():
    form = CardForm()
    if form.validate_on_submit():
        with refusal(form):
            card = services.add_card(db.session, user=current_user, gateway=services.gateway_for(),
                                     number=form.number.data, exp_month=form.exp_month.data,
                                     exp_year=form.exp_year.data, cvc=form.cvc.data,
                                     cardholder=form.cardholder.data, today=company_today(),
                                     make_default=form.make_default.data)
            flash(f"{card.label} added to your wallet.", "success")
            return redirect(url_for("payments.wallet"), 303)
    # Never echo a card number or security code back into the page.
    form.number.data = form.cvc.data = ""
    return render("payments/form.html", form=form, status=422 if form.is_submitted() else 200)


@bp.post("/<int:card_id>/default")
@login_required
@shopper_required
def make_default(card_id: int):
    card = services.set_default_card(db.session, user=current_user, card_id=card_id)
    flash(f"{card.label} is now your default card.", "success")
    return redirect(url_for("payments.wallet"), 303)


@bp.post("/<int:card_id>/remove")
@login_required
@shopper_required
def remove(card_id: int):
    services.remove_card(db.session, user=current_user, card_id=card_id)
    flash("Card removed from your wallet.", "success")
    return redirect(url_for("payments.wallet"), 303)
