from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from portal.acting import shopper

from portal.addresses import services
from portal.addresses.forms import AddressForm
from portal.extensions import db
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("addresses", __name__, url_prefix="/addresses")

FIELDS = services.ADDRESS_FIELDS


@bp.get("/")
@login_required
@shopper_required
def index():
    return render("addresses/index.html",
                  addresses=services.address_book(db.session, shopper))


@bp.route("/new", methods=["GET", "POST"])
@login_required
@shopper_required
def new():
    form = AddressForm()
    if form.validate_on_submit():
        with refusal(form):
            address = services.add_address(db.session, user=shopper, actor=current_user,
                                           make_default=form.make_default.data,
                                           **{name: getattr(form, name).data for name in FIELDS})
            flash(f'Address "{address.moniker}" saved.', "success")
            return redirect(url_for("addresses.index"), 303)
    return render("addresses/form.html", form=form, address=None,
                  status=422 if form.is_submitted() else 200)


@bp.route("/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
@shopper_required
def edit(address_id: int):
    address = services.owned_address(db.session, shopper, address_id)
    form = AddressForm(obj=address)
    if form.validate_on_submit():
        with refusal(form):
            services.update_address(db.session, user=shopper, actor=current_user, address_id=address.id,
                                    **{name: getattr(form, name).data for name in FIELDS})
            if form.make_default.data:
                services.set_default_address(db.session, user=shopper, actor=current_user,
                                             address_id=address.id)
            flash(f'Address "{address.moniker}" updated.', "success")
            return redirect(url_for("addresses.index"), 303)
    return render("addresses/form.html", form=form, address=address,
                  status=422 if form.is_submitted() else 200)


@bp.post("/<int:address_id>/default")
@login_required
@shopper_required
def make_default(address_id: int):
    address = services.set_default_address(db.session, user=shopper, actor=current_user,
                                           address_id=address_id)
    flash(f'"{address.moniker}" is now your default address.', "success")
    return redirect(url_for("addresses.index"), 303)


@bp.post("/<int:address_id>/remove")
@login_required
@shopper_required
def remove(address_id: int):
    services.remove_address(db.session, user=shopper, actor=current_user, address_id=address_id)
    flash("Address removed.", "success")
    return redirect(url_for("addresses.index"), 303)
