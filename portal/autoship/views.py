from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from portal.addresses.services import address_book
from portal.autoship import (calendar_tokens, creation, items, lifecycle, profiles, queries,
                              schedule_changes, shipping_now)
from portal.autoship.calendar_feed import build_feed
from portal.autoship.forms import (DayForm, DeliveryForm, ItemChangeForm, ItemForm, NewProfileForm,
                                   NextDateForm, PauseForm, RenameForm, ScheduleForm, SubscribeForm)
from portal.autoship.models import AutoshipProfile
from portal.catalog.models import Product
from portal.clock import company_today
from portal.errors import DomainError
from portal.extensions import db
from portal.formatting import day, money
from portal.ids import parse_id
from portal.orders.pricing import shipping_rule
from portal.payments.services import gateway_for, wallet
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("autoship", __name__, url_prefix="/autoship")


def _rules() -> profiles.AutoshipRules:
    return profiles.AutoshipRules.from_config(current_app.config)


def _product_choices() -> list[SelectChoice]:
    products = db.session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name))
    return [SelectChoice(p.id, f"{p.name} ({p.sku})") for p in products]


def _delivery_choices(form) -> None:
    today = company_today()
    form.address_id.choices = [SelectChoice(a.id, f"{a.moniker}: {a.one_line}")
                               for a in address_book(db.session, current_user)]
    form.card_id.choices = [SelectChoice(c.id, f"{c.label} (expires {c.expiry})")
                            for c in wallet(db.session, current_user) if not c.expired_on(today)]


def _form_errors(form) -> str:
    return " ".join(message for messages in form.errors.values() for message in messages)


def render_profile(profile_id: int, status: int = 200, error: str | None = None, **forms):
    db.session.expire_all()
    profile = profiles.owned_profile(db.session, current_user, profile_id)
    today = company_today()
    delivery = forms.pop("delivery", None) or DeliveryForm(formdata=None, obj=profile)
    _delivery_choices(delivery)
    delivery.card_id.data = delivery.card_id.data or profile.payment_method_id
    schedule = forms.pop("schedule", None) or ScheduleForm(
        formdata=None, first_date=max(profile.next_run_date or today, today), regularity=profile.regularity,
        kind="rrule", rrule=profile.rrule)
    add_item = forms.pop("add_item", None) or ItemForm(formdata=None)
    add_item.product_id.choices = _product_choices()
    return render("autoship/profile.html", "autoship/_profile.html", status=status, error=error,
                  summary=queries.summarize(profile, today, _rules(), shipping_rule(current_app.config)),
                  history=queries.history(db.session, profile),
                  orders=queries.recent_orders(db.session, profile), today=today,
                  delivery=delivery, schedule=schedule, add_item=add_item,
                  next_date=forms.pop("next_date", None) or NextDateForm(formdata=None),
                  pause=forms.pop("pause", None) or PauseForm(formdata=None),
                  rename=forms.pop("rename", None) or RenameForm(formdata=None, name=profile.name),
                  ship_now_date=shipping_now.ship_now_date(profile, today),
                  rules=_rules())


def act(profile_id: int, change: Callable[[AutoshipProfile], object],
        done: str | Callable[[object], str], form=None, form_name: str | None = None):
    """Validate ``form``, apply ``change`` to the person's profile, and answer with the
    refreshed profile (htmx) or a redirect to it; a refusal is a 4xx with its message.
    ``done`` is the message of success, or makes it from what ``change`` returned (the edge
    commits; should that fail, the message is taken back with the rest)."""
    profile = profiles.owned_profile(db.session, current_user, profile_id)
    forms = {form_name: form} if form_name else {}
    if form is not None and not form.validate_on_submit():
        return render_profile(profile_id, 422, _form_errors(form), **forms)
    try:
        with refusal(form) as refused:
            outcome = change(profile)
            db.session.flush()  # render_profile reads the profile back afresh (expire_all)
    except IntegrityError:
        # The services lock the profile, so a concurrent change waits and is checked again;
        # should a constraint still refuse one, the person sees the profile as it now is.
        db.session.rollback()
        return render_profile(profile_id, 409, "This standing order was just changed elsewhere. "
                                               "Here it is as it is now; try again if needed.",
                              **forms)
    if refused:
        return render_profile(profile_id, refused.status, refused.message, **forms)
    flash(done(outcome) if callable(done) else done, "success")
    if request.htmx:
        return render_profile(profile_id)
    return redirect(url_for("autoship.profile", profile_id=profile_id), 303)


@bp.get("/")
@login_required
@shopper_required
def index():
    today = company_today()
    rules, shipping = _rules(), shipping_rule(current_app.config)
    summaries = [queries.summarize(p, today, rules, shipping)
                 for p in queries.profiles_of(db.session, current_user)]
    return render("autoship/index.html", summaries=summaries, today=today)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@shopper_required
def new():
    form = NewProfileForm()
    form.product_id.choices = _product_choices()
    _delivery_choices(form)
    if request.method == "GET":
        form.first_date.data = company_today()
        product_id = parse_id(request.args.get("product"))
        if product_id is not None:
            form.product_id.data = product_id
    if form.validate_on_submit():
        with refusal(form):
            try:
                profile = creation.create_profile(
                    db.session, user=current_user, name=form.name.data, rule=form.rule(),
                    regularity=form.regularity.data, first_date=form.first_date.data,
                    address_id=form.address_id.data, card_id=form.card_id.data,
                    items=[(form.product_id.data, form.unit.data, form.quantity.data)],
                    today=company_today(), rules=_rules(), price_policy=form.price_policy.data,
                    shipping_method=form.shipping_method.data)
            except ValueError as error:  # the recurrence fields describe no valid rule
                raise profiles.AutoshipError(str(error), "rrule") from error
            flash(f"Standing order “{profile.name}” created. First shipment: "
                  f"{day(profile.next_run_date, 'long_short')}.", "success")
            return redirect(url_for("autoship.profile", profile_id=profile.id), 303)
    return render("autoship/new.html", form=form, status=422 if form.is_submitted() else 200)


@bp.get("/preview")
@login_required
@shopper_required
def preview():
    """The next six dates of the schedule being typed, before it is saved."""
    form = ScheduleForm(request.args, meta={"csrf": False})
    if not form.validate():
        return render("autoship/_preview.html", status=422, error=_form_errors(form), dates=[])
    try:
        dates = schedule_changes.preview(form.rule(), form.regularity.data, form.first_date.data)
    except ValueError as error:
        return render("autoship/_preview.html", status=422, error=str(error), dates=[])
    except DomainError as error:  # the same refusal as saving it would give
        return render("autoship/_preview.html", status=error.status, error=error.message, dates=[])
    return render("autoship/_preview.html", dates=dates, error=None,
                  description=form.rule().describe(form.first_date.data))


@bp.get("/<int:profile_id>")
@login_required
@shopper_required
def profile(profile_id: int):
    return render_profile(profile_id)


@bp.post("/<int:profile_id>/items")
@login_required
@shopper_required
def add_item(profile_id: int):
    form = ItemForm()
    form.product_id.choices = _product_choices()
    return act(profile_id, lambda p: items.add_item(
        db.session, user=current_user, profile=p, product_id=form.product_id.data,
        unit_code=form.unit.data, quantity=form.quantity.data, today=company_today(),
        rules=_rules()), "Item added.", form, "add_item")


@bp.post("/<int:profile_id>/items/<int:item_id>")
@login_required
@shopper_required
def change_item(profile_id: int, item_id: int):
    form = ItemChangeForm()
    return act(profile_id, lambda p: items.change_item(
        db.session, user=current_user, profile=p, item_id=item_id, unit_code=form.unit.data,
        quantity=form.quantity.data, today=company_today(), rules=_rules()), "Item updated.", form)


@bp.post("/<int:profile_id>/items/<int:item_id>/remove")
@login_required
@shopper_required
def remove_item(profile_id: int, item_id: int):
    return act(profile_id, lambda p: items.remove_item(
        db.session, user=current_user, profile=p, item_id=item_id, today=company_today(),
        rules=_rules()), "Item removed.")


@bp.post("/<int:profile_id>/schedule")
@login_required
@shopper_required
def change_schedule(profile_id: int):
    form = ScheduleForm()

    def change(p):
        try:
            rule = form.rule()
        except ValueError as error:
            raise profiles.AutoshipError(str(error), "rrule") from error
        schedule_changes.change_schedule(db.session, user=current_user, profile=p, rule=rule,
                                         regularity=form.regularity.data, first_date=form.first_date.data,
                                         today=company_today(), rules=_rules())
    return act(profile_id, change, "Schedule changed.", form, "schedule")


@bp.post("/<int:profile_id>/next-date")
@login_required
@shopper_required
def change_next_date(profile_id: int):
    form = NextDateForm()
    return act(profile_id, lambda p: schedule_changes.change_next_date(
        db.session, user=current_user, profile=p, new_date=form.new_date.data,
        move_anchor=form.mode.data == "anchor", today=company_today(), rules=_rules()),
        "Next shipment date changed.", form, "next_date")


@bp.post("/<int:profile_id>/skip")
@login_required
@shopper_required
def skip(profile_id: int):
    form = DayForm()
    return act(profile_id, lambda p: schedule_changes.skip_date(
        db.session, user=current_user, profile=p, day=form.day.data, today=company_today(),
        rules=_rules()), "Shipment skipped.", form)


@bp.post("/<int:profile_id>/unskip")
@login_required
@shopper_required
def unskip(profile_id: int):
    form = DayForm()
    return act(profile_id, lambda p: schedule_changes.unskip_date(
        db.session, user=current_user, profile=p, day=form.day.data, today=company_today(),
        rules=_rules()), "Skip undone.", form)


@bp.post("/<int:profile_id>/pause")
@login_required
@shopper_required
def pause(profile_id: int):
    form = PauseForm()
    return act(profile_id, lambda p: lifecycle.pause(
        db.session, user=current_user, profile=p, resume_on=form.resume_on.data,
        today=company_today(), rules=_rules()), "Standing order paused.", form, "pause")


@bp.post("/<int:profile_id>/resume")
@login_required
@shopper_required
def resume(profile_id: int):
    return act(profile_id, lambda p: lifecycle.resume(
        db.session, user=current_user, profile=p, today=company_today()),
        "Standing order active again.")


@bp.post("/<int:profile_id>/cancel")
@login_required
@shopper_required
def cancel(profile_id: int):
    return act(profile_id, lambda p: lifecycle.cancel(
        db.session, user=current_user, profile=p, today=company_today(), rules=_rules()),
        "Standing order cancelled.")


@bp.post("/<int:profile_id>/ship-now")
@login_required
@shopper_required
def ship_now(profile_id: int):
    try:  # the date the page offered; a page from before this field ships the current one
        offered = date.fromisoformat(request.form.get("due", ""))
    except ValueError:
        offered = None

    return act(profile_id, lambda p: shipping_now.ship_now(
        db.session, user=current_user, profile=p, gateway=gateway_for(),
        shipping=shipping_rule(current_app.config), today=company_today(), offered=offered),
        lambda order: f"Order {order.number} placed and paid: {money(order.total)}.")


@bp.post("/<int:profile_id>/rename")
@login_required
@shopper_required
def rename(profile_id: int):
    form = RenameForm()
    return act(profile_id, lambda p: lifecycle.rename(db.session, user=current_user, profile=p,
                                                      name=form.name.data), "Renamed.", form, "rename")


@bp.post("/<int:profile_id>/delivery")
@login_required
@shopper_required
def delivery(profile_id: int):
    form = DeliveryForm()
    return act(profile_id, lambda p: lifecycle.change_delivery(
        db.session, user=current_user, profile=p, address_id=form.address_id.data,
        card_id=form.card_id.data, shipping_method=form.shipping_method.data,
        price_policy=form.price_policy.data, out_of_stock_policy=form.out_of_stock_policy.data,
        today=company_today(), rules=_rules()), "Delivery and payment saved.", form, "delivery")


@bp.post("/from-cart")
@login_required
@shopper_required
def from_cart():
    with refusal() as refused:
        profile = creation.profile_from_cart(db.session, user=current_user, today=company_today(),
                                             rules=_rules())
    if refused:
        flash(refused.message, "error")
        return render("errors/error.html", "errors/_error.html", status=refused.status,
                      title="No standing order created", message=refused.message)
    flash(f"Your cart is now a standing order: first shipment {day(profile.next_run_date, 'day_of_month')}, "
          "then as scheduled. Your cart is still here if you want it today too.", "success")
    return redirect(url_for("autoship.profile", profile_id=profile.id), 303)


@bp.post("/subscribe")
@login_required
@shopper_required
def subscribe():
    form = SubscribeForm()
    product_id, target = parse_id(form.product_id.data), form.profile.data or "new"
    profile_id = None if target == "new" else parse_id(target)
    if not form.validate_on_submit() or product_id is None or (target != "new" and profile_id is None):
        return render("errors/error.html", "errors/_error.html", status=422, title="Not subscribed",
                      message=_form_errors(form) or "Choose a product and a standing order.")
    with refusal() as refused:
        profile = creation.subscribe(db.session, user=current_user, product_id=product_id,
                                     unit_code=form.unit.data, quantity=form.quantity.data,
                                     profile_id=profile_id,
                                     today=company_today(), rules=_rules())
    if refused:
        return render("errors/error.html", "errors/_error.html", status=refused.status,
                      title="Not subscribed", message=refused.message)
    message = f"Added to “{profile.name}”, next shipment {day(profile.next_run_date, 'day_of_month')}."
    if request.htmx:
        return render("autoship/_subscribed.html", message=message, profile=profile)
    flash(message, "success")
    return redirect(url_for("autoship.profile", profile_id=profile.id), 303)


@bp.post("/calendar")
@login_required
@shopper_required
def calendar_token():
    if request.form.get("action") == "revoke":
        calendar_tokens.revoke_calendar_token(db.session, user=current_user)
        flash("Your calendar link no longer works.", "success")
        return redirect(url_for("autoship.index"), 303)
    token = calendar_tokens.issue_calendar_token(db.session, user=current_user)
    flash("Your new calendar link (any earlier one stopped working): "
          + url_for("autoship.calendar_feed", token=token, _external=True), "success")
    return redirect(url_for("autoship.index"), 303)


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    owner = calendar_tokens.feed_owner(db.session, token)
    if owner is None:
        abort(404, "This calendar link is unknown or was revoked.")
    body = build_feed(db.session, owner, company_today(), current_app.config["COMPANY_NAME"])
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": "inline; filename=autoship.ics",
                             "Cache-Control": "private, max-age=300"})
