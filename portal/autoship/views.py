from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, url_for
from flask import session as cookie_session
from flask_login import current_user, login_required
from htmx_flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from portal.addresses.services import address_book
from portal.autoship import (calendar_tokens, creation, items, lifecycle, profiles, queries,
                              schedule_changes, shipping_now)
from portal.autoship.calendar_feed import build_feed
from portal.links import site_url
from portal.autoship.forms import (DayForm, DeliveryForm, ItemChangeForm, ItemForm, NewProfileForm,
                                   NextDateForm, PauseForm, RenameForm, ResumeDateForm, ScheduleFields,
                                   ScheduleForm, SubscribeForm, schedule_fields_for)
from portal.autoship.models import AutoshipProfile, Regularity
from portal.catalog.models import Product
from portal.clock import company_today
from portal.confirmations import ask_first, confirmed
from portal.errors import DomainError
from portal.extensions import db
from portal.formatting import day, local_time, money
from portal.ids import parse_id
from portal.orders.pricing import shipping_rule, totals
from portal.payments.models import PaymentMethod
from portal.payments.services import gateway_for, wallet
from portal.roles import shopper_required
from portal.templating import render, render_fragment
from portal.unit_of_work import refusal

bp = Blueprint("autoship", __name__, url_prefix="/autoship")
SHOW_FIELDS = "show_fields"  # the schedule editor's button that re-renders it for the kind chosen
SHOW_UNITS = "show_units"  # the item form's button that re-renders it for the product chosen


def _rules() -> profiles.AutoshipRules:
    return profiles.AutoshipRules.from_config(current_app.config)


def _item_choices(form: ItemForm) -> None:
    """The products on offer, and the units of the one chosen (else of the first, which is the
    one a browser shows chosen): only a product's own units, so that no one is offered, say, a
    lot of what is not sold by the lot."""
    products = db.session.scalars(select(Product).where(Product.active.is_(True))
                                  .order_by(Product.name)).all()
    form.product_id.choices = [SelectChoice(p.id, f"{p.name} ({p.sku})") for p in products]
    chosen = next((p for p in products if p.id == form.product_id.data), products[0] if products else None)
    form.unit.choices = [SelectChoice(u.code, u.label) for u in chosen.sellable_units] if chosen else []


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
    schedule_open = "schedule" in forms  # a schedule typed and sent back: keep the editor open
    schedule = forms.pop("schedule", None) or ScheduleForm(
        formdata=None, first_date=max(profile.next_run_date or today, today), regularity=profile.regularity,
        **schedule_fields_for(profile.rrule))
    add_item = forms.pop("add_item", None) or ItemForm(formdata=None)
    _item_choices(add_item)
    return render("autoship/profile.html", "autoship/_profile.html", status=status, error=error,
                  summary=queries.summarize(profile, today, _rules(), shipping_rule(current_app.config),
                                            last_ordered=_last_ordered([profile]).get(profile.id)),
                  history=queries.history(db.session, profile),
                  orders=queries.recent_orders(db.session, profile), today=today,
                  delivery=delivery, schedule=schedule, schedule_open=schedule_open, add_item=add_item,
                  next_date=forms.pop("next_date", None) or NextDateForm(formdata=None),
                  pause=forms.pop("pause", None) or PauseForm(formdata=None),
                  resume_date=forms.pop("resume_date", None)
                  or ResumeDateForm(formdata=None, resume_on=profile.paused_until),
                  rename=forms.pop("rename", None) or RenameForm(formdata=None, name=profile.name),
                  ship_now_date=shipping_now.ship_now_date(profile, today),
                  charge_card=db.session.get(PaymentMethod, profile.payment_method_id),
                  rules=_rules())


def _last_ordered(found) -> dict[int, date]:
    return profiles.last_ordered_dates(db.session, [p.id for p in found])


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
        with refusal() as refused:  # told once below: beside its field, or above the profile
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
        beside = getattr(form, refused.error.field or "", None) if form_name else None
        if beside is not None and hasattr(beside, "errors"):
            beside.errors = [*beside.errors, refused.message]
        return render_profile(profile_id, refused.status, None if beside is not None else refused.message,
                              **forms)
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
    found = queries.profiles_of(db.session, current_user)
    ordered = _last_ordered(found)
    summaries = [queries.summarize(p, today, rules, shipping, last_ordered=ordered.get(p.id)) for p in found]
    return render("autoship/index.html", summaries=summaries, today=today, **_calendar_context())


@bp.route("/new", methods=["GET", "POST"])
@login_required
@shopper_required
def new():
    form = NewProfileForm()
    _delivery_choices(form)
    if request.method == "GET":
        form.first_date.data = profiles.first_open_date(company_today(), _rules())
        product_id = parse_id(request.args.get("product"))
        if product_id is not None:
            form.product_id.data = product_id
    _item_choices(form)
    if request.method == "POST" and (SHOW_FIELDS in request.form or SHOW_UNITS in request.form):
        # another kind of schedule, or another product, chosen without JavaScript: its fields
        return render("autoship/new.html", form=form)
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
    return render("autoship/new.html", form=form, status=422 if form.is_submitted() else 200,
                  first_shipment=_first_shipment(form))


def _first_shipment(form: ScheduleForm) -> date | None:
    """When the schedule the form describes first ships, for the page to say; None when the
    fields describe no schedule that would be accepted."""
    if form.first_date.data is None:
        return None
    try:
        return schedule_changes.preview(form.rule(), form.regularity.data, form.first_date.data, 1)[0]
    except (ValueError, DomainError):
        return None


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


@bp.get("/schedule-fields")
@login_required
@shopper_required
def schedule_fields():
    """The fields of the kind of schedule just chosen, for the editor to swap in; the values
    already typed carry over. Saving nothing, it validates nothing."""
    form = ScheduleFields(request.args, meta={"csrf": False})
    response = render_fragment("autoship/_schedule_kind_fields.html", form=form)
    response.headers["HX-Trigger-After-Settle"] = "scheduleFieldsShown"  # the preview follows
    return response


@bp.get("/item-units")
@login_required
@shopper_required
def item_units():
    """The unit select for the product just chosen in an item form, for the form to swap in.
    Saving nothing, it validates nothing."""
    form = ItemForm(request.args, meta={"csrf": False})
    _item_choices(form)
    return render_fragment("autoship/_item_unit.html", form=form)


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
    _item_choices(form)
    if SHOW_UNITS in request.form:  # another product chosen without JavaScript: show its units
        return render_profile(profile_id, add_item=form)
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
    if SHOW_FIELDS in request.form:  # another kind chosen without JavaScript: show its fields
        return render_profile(profile_id, schedule=form)

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
        rules=_rules()), lambda shipping: f"{day(shipping, 'long_short')} is a shipment date again.", form)


@bp.post("/<int:profile_id>/pause")
@login_required
@shopper_required
def pause(profile_id: int):
    form = PauseForm()
    return act(profile_id, lambda p: lifecycle.pause(
        db.session, user=current_user, profile=p, resume_on=form.resume_on.data,
        today=company_today(), rules=_rules()), "Standing order paused.", form, "pause")


@bp.post("/<int:profile_id>/resume-date")
@login_required
@shopper_required
def change_resume_date(profile_id: int):
    form = ResumeDateForm()
    return act(profile_id, lambda p: lifecycle.change_resume_date(
        db.session, user=current_user, profile=p, resume_on=form.resume_on.data, today=company_today()),
        lambda _: f"Resume date changed to {day(form.resume_on.data, 'long')}.", form, "resume_date")


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
    if not confirmed():
        return _ask_to_ship_now(profile_id, offered)
    return act(profile_id, lambda p: shipping_now.ship_now(
        db.session, user=current_user, profile=p, gateway=gateway_for(),
        shipping=shipping_rule(current_app.config), today=company_today(),
        base_url=site_url(), offered=offered),
        lambda order: f"Order {order.number} placed and paid: {money(order.total)}.")


def _ask_to_ship_now(profile_id: int, offered: date | None):
    """What "Ship now" would charge and which shipment it is, before anything is charged; what
    it would refuse is refused here already."""
    profile = profiles.owned_profile(db.session, current_user, profile_id)
    today = company_today()
    with refusal() as refused:
        offer = shipping_now.check_ship_now(db.session, user=current_user, profile=profile,
                                            today=today, offered=offered)
    if refused:
        return render_profile(profile_id, refused.status, refused.message)
    cycle = totals(offer.lines, shipping_rule(current_app.config))
    _lines, left_out = profiles.priced_items(profile)
    count = len(offer.lines)
    consequences = [
        f"An order of {count} item{'' if count == 1 else 's'} is placed today and {money(cycle.total)} "
        f"(shipping included) is charged at once to {offer.card.label}.",
        f"It is the shipment of {day(offer.due, 'long')}: that date will not ship again."
        if profile.regularity == Regularity.CALENDAR else "Your schedule then counts again from today.",
        (f"The next shipment after it: {day(offer.next_run, 'long')}." if offer.next_run
         else "No shipment follows it: the standing order ends with it."),
        *left_out]
    return ask_first(title=f"Ship “{profile.name}” now and pay {money(cycle.total)}?",
                     consequences=consequences,
                     action=url_for("autoship.ship_now", profile_id=profile.id),
                     button=f"Yes, ship now and pay {money(cycle.total)}",
                     back=url_for("autoship.profile", profile_id=profile.id),
                     back_label="No, keep the schedule", fields={"due": offer.due.isoformat()})


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
    """The cart as a new standing order (``profile`` "new" or absent) or added to one of the
    person's (``profile`` its id)."""
    target = request.form.get("profile") or "new"
    profile_id = None if target == "new" else parse_id(target)
    if target != "new" and profile_id is None:
        return render("errors/error.html", "errors/_error.html", status=422,
                      title="No standing order changed", message="Choose a standing order.")
    with refusal() as refused:
        profile = creation.profile_from_cart(db.session, user=current_user, today=company_today(),
                                             rules=_rules(), profile_id=profile_id)
    if refused:  # the page says it; a flash as well would show again on the next page
        title = "No standing order created" if profile_id is None else "Nothing added"
        return render("errors/error.html", "errors/_error.html", status=refused.status,
                      title=title, message=refused.message)
    if profile_id is None:
        flash(f"Your cart is now a standing order: first shipment {day(profile.next_run_date, 'day_of_month')}, "
              "then as scheduled. Your cart is still here if you want it today too.", "success")
    else:
        flash(f"Your cart was added to “{profile.name}”"
              + (f", next shipment {day(profile.next_run_date, 'day_of_month')}" if profile.next_run_date else "")
              + ". Your cart is still here if you want it today too.", "success")
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


NEW_CALENDAR_TOKEN = "autoship_new_calendar_token"  # in the cookie session until shown once


def _calendar_context(new_token: str | None = None) -> dict:
    """The calendar link's state for the standing-orders page: the link itself only right after
    it was issued (only its hash is kept), else since when one is active."""
    link = calendar_tokens.current_calendar_link(db.session, user=current_user)
    new_token = new_token or cookie_session.pop(NEW_CALENDAR_TOKEN, None)
    if new_token and calendar_tokens.feed_owner(db.session, new_token) is None:
        new_token = None  # replaced or turned off since
    return {"calendar_link": link, "new_calendar_link": new_token and url_for(
        "autoship.calendar_feed", token=new_token, _external=True)}


@bp.post("/calendar")
@login_required
@shopper_required
def calendar_token():
    """Issue the calendar link ("issue", also to replace one) or turn it off ("revoke"); replacing
    or turning off a link that works asks first (calendars subscribed with it stop updating)."""
    revoke = request.form.get("action") == "revoke"
    active = calendar_tokens.current_calendar_link(db.session, user=current_user)
    if active is not None and not confirmed():
        since = local_time(active.created_at, "full")
        return ask_first(
            title="Turn your calendar link off?" if revoke else "Replace your calendar link?",
            consequences=[
                f"The link you have had since {since} stops working: calendars subscribed with "
                "it stop showing your shipments"
                + (", until you subscribe again with the new link." if not revoke else "."),
                "You will see the new link once, right after it is made: copy it into your "
                "calendar app then." if not revoke else "You can get a new link at any time."],
            action=url_for("autoship.calendar_token"),
            button="Yes, turn it off" if revoke else "Yes, make a new link",
            back=url_for("autoship.index", _anchor="calendar"), back_label="No, keep my link",
            fields={"action": "revoke" if revoke else "issue"})
    if revoke:
        calendar_tokens.revoke_calendar_token(db.session, user=current_user)
        cookie_session.pop(NEW_CALENDAR_TOKEN, None)
        message, token = "Your calendar link no longer works.", None
    else:
        token = calendar_tokens.issue_calendar_token(db.session, user=current_user)
        message = ("Your new calendar link is ready. Copy it now: it is shown only this once."
                   + (" The earlier one no longer works." if active else ""))
    if request.htmx:
        return render("autoship/_calendar.html", message=message, **_calendar_context(token))
    if token:
        cookie_session[NEW_CALENDAR_TOKEN] = token
    flash(message, "success")
    return redirect(url_for("autoship.index", _anchor="calendar"), 303)


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    owner = calendar_tokens.feed_owner(db.session, token)
    if owner is None:
        abort(404, "This calendar link is unknown or was revoked.")
    body = build_feed(db.session, owner, company_today(), current_app.config["COMPANY_NAME"])
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": "inline; filename=autoship.ics",
                             "Cache-Control": "private, max-age=300"})
