"""A member's swap of an item and the cancellation flow (reason page, offers). The cancel itself
posts to the standing order's own "cancel" (``autoship.cancel``), which keeps the reason."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import make_response, request
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.autoship.page_views import rules_now
from portal.autoship.profiles import accepts_changes, owned_profile
from portal.catalog.models import Product
from portal.clock import company_today
from portal.errors import NotFound
from portal.extensions import db
from portal.forms import form_messages
from portal.retention import cancellation, swaps
from portal.retention.forms import OfferForm, SwapForm, checked_key, new_key
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("retention", __name__, url_prefix="/autoship")


def product_choices(*fields) -> None:
    """Every product on sale, for a "swap for" select."""
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)).all()
    for f in fields:
        f.choices = [SelectChoice(p.id, f"{p.name} ({p.sku})") for p in products]


def _item(profile, item_id: int):
    item = next((i for i in profile.items if i.id == item_id), None)
    if item is None:
        raise NotFound("That item is not in this standing order.")
    return item


def done(message: str, profile_id: int):
    """Success: the message on the standing order's page, reached by a redirect (or, for htmx,
    by taking the whole page there)."""
    flash(message, "success")
    target = url_for("autoship.profile", profile_id=profile_id)
    if request.htmx:
        return make_response("", 204, redirect=target)
    return redirect(target, 303)


# ------------------------------------------------------------------ swap

def _swap_page(profile_id: int, item_id: int, form: SwapForm, status: int = 200, error: str | None = None):
    profile = owned_profile(db.session, current_user, profile_id)
    item = _item(profile, item_id)
    product_choices(form.product_id)
    return render("retention/swap.html", "retention/_swap.html", status=status, form=form, error=error,
                  profile=profile, item=item, open=accepts_changes(profile, company_today(), rules_now()))


@bp.get("/<int:profile_id>/items/<int:item_id>/swap")
@login_required
@shopper_required
def swap_page(profile_id: int, item_id: int):
    return _swap_page(profile_id, item_id, SwapForm(formdata=None, key=new_key()))


@bp.post("/<int:profile_id>/items/<int:item_id>/swap")
@login_required
@shopper_required
def swap(profile_id: int, item_id: int):
    profile = owned_profile(db.session, current_user, profile_id)
    form = SwapForm()
    if not form.validate_on_submit():
        return _swap_page(profile_id, item_id, form, 422, form_messages(form))
    with refusal(form) as refused:
        outcome = swaps.swap_item(db.session, user=current_user, profile=profile, item_id=item_id,
                                  product_id=form.product_id.data, unit_code=form.unit.data or None,
                                  key=form.key_or_new(), today=company_today(), rules=rules_now())
    if refused:
        beside = refused.error.field in ("product_id", "unit")
        return _swap_page(profile_id, item_id, form, refused.status, None if beside else refused.message)
    return done(("Already done. " if outcome.repeated else "") + outcome.message, profile_id)


# ------------------------------------------------------------------ cancellation flow

def _reason_page(profile_id: int, form: OfferForm, status: int = 200, error: str | None = None):
    profile = owned_profile(db.session, current_user, profile_id)
    today = company_today()
    reason = form.reason.data if form.reason.data in cancellation.REASONS else None
    offers = cancellation.offers_for(profile, reason, today, rules_now()) if reason else []
    product_choices(form.product_id)
    form.item_id.choices = [SelectChoice(i.id, f"{i.product.name} ({i.unit_code})") for i in profile.items]
    fragment = "retention/_offers.html" if request.args.get("panel") == "offers" else "retention/_reason.html"
    return render("retention/reason.html", fragment, status=status, form=form, error=error,
                  profile=profile, offers=offers, reason=reason, today=today,
                  open=accepts_changes(profile, today, rules_now()))


@bp.get("/<int:profile_id>/cancel")
@login_required
@shopper_required
def reason_page(profile_id: int):
    """Why, and what else the member could do; "See what else I can do" (or, with htmx, choosing
    a reason) shows the offers for the reason chosen."""
    form = OfferForm(request.args, meta={"csrf": False})
    form.key.data = checked_key(form.key.data) or new_key()
    if form.reason.data not in cancellation.REASONS:
        form.reason.data = None
    return _reason_page(profile_id, form)


@bp.post("/<int:profile_id>/cancel/instead")
@login_required
@shopper_required
def take_offer(profile_id: int):
    profile = owned_profile(db.session, current_user, profile_id)
    form = OfferForm()
    if not form.validate_on_submit():
        return _reason_page(profile_id, form, 422, form_messages(form))
    with refusal(form) as refused:
        answered = cancellation.take_offer(
            db.session, user=current_user, profile=profile, reason=form.reason.data,
            details=form.details.data, key=form.key_or_new(), offer=form.offer.data,
            today=company_today(), rules=rules_now(), day=form.day_for_offer(), months=form.months.data,
            item_id=form.item_id.data, product_id=form.product_id.data, unit_code=form.unit.data or None)
    if refused:
        return _reason_page(profile_id, form, refused.status, refused.message)
    return done(("Already done. " if answered.repeated else "") + answered.record.answer, profile_id)
