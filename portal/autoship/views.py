from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, session as cookie_session, url_for
from flask_login import current_user, login_required
from htmx_flask import request

from portal.acting import shopper
from portal.autoship import (calendar_tokens, creation, items, lifecycle, loyalty_views, page_views, profiles,
                              queries, schedule_changes, shipping_now)
from portal.autoship.calendar_feed import build_feed
from portal.autoship.forms import (DayForm, DeliveryForm, ItemChangeForm, ItemForm, NewProfileForm,
                                   NextDateForm, PauseForm, RenameForm, ResumeDateForm, ScheduleFields,
                                   ScheduleForm, SubscribeForm)
from portal.clock import company_today
from portal.confirmations import ask_all, confirmed
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import form_messages
from portal.formatting import day, money
from portal.ids import parse_id
from portal.links import site_url
from portal.orders.pricing import shipping_rule
from portal.payments.services import gateway_for
from portal.retention import cancellation
from portal.retention.forms import CancelForm
from portal.roles import shopper_required
from portal.templating import render, render_fragment
from portal.unit_of_work import refusal
from portal.volume.change_views import ask_if_volume_leaves, volume_question

bp = Blueprint("autoship", __name__, url_prefix="/autoship")


@bp.get("/")
@login_required
@shopper_required
def index():
    today = company_today()
    rules, shipping = page_views.rules_now(), shipping_rule(current_app.config)
    found = queries.profiles_of(db.session, shopper)
    ordered = page_views.last_ordered(found)
    summaries = [queries.summarize(p, today, rules, shipping, last_ordered=ordered.get(p.id)) for p in found]
    return render("autoship/index.html", summaries=summaries, today=today, statement=loyalty_views.points_summary(),
                  **page_views.calendar_context())


@bp.route("/new", methods=["GET", "POST"])
@login_required
@shopper_required
def new():
    form = NewProfileForm()
    page_views.delivery_choices(form)
    if request.method == "GET":
        form.first_date.data = profiles.first_open_date(company_today(), page_views.rules_now())
        product_id = parse_id(request.args.get("product"))
        if product_id is not None:
            form.product_id.data = product_id
    page_views.item_choices(form)
    if request.method == "POST" and (page_views.SHOW_FIELDS in request.form or page_views.SHOW_UNITS in request.form):
        # another kind of schedule, or another product, chosen without JavaScript: its fields
        return render("autoship/new.html", form=form)
    if form.validate_on_submit():
        with refusal(form):
            try:
                profile = creation.create_profile(
                    db.session, user=shopper, actor=current_user, name=form.name.data, rule=form.rule(),
                    regularity=form.regularity.data, first_date=form.first_date.data,
                    address_id=form.address_id.data, card_id=form.card_id.data,
                    items=[(form.product_id.data, form.unit.data, form.quantity.data)],
                    today=company_today(), rules=page_views.rules_now(), price_policy=form.price_policy.data,
                    shipping_method=form.shipping_method.data)
            except ValueError as error:  # the recurrence fields describe no valid rule
                raise profiles.AutoshipError(str(error), "rrule") from error
            flash(f"Standing order “{profile.name}” created. First shipment: "
                  f"{day(profile.next_run_date, 'long_short')}.", "success")
            return redirect(url_for("autoship.profile", profile_id=profile.id), 303)
    return render("autoship/new.html", form=form, status=422 if form.is_submitted() else 200,
                  first_shipment=page_views.first_shipment(form))


@bp.get("/preview")
@login_required
@shopper_required
def preview():
    """The next six dates of the schedule being typed, before it is saved."""
    form = ScheduleForm(request.args, meta={"csrf": False})
    if not form.validate():
        return render("autoship/_preview.html", status=422, error=form_messages(form), dates=[])
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
    page_views.item_choices(form)
    return render_fragment("autoship/_item_unit.html", form=form)


@bp.get("/<int:profile_id>")
@login_required
@shopper_required
def profile(profile_id: int):
    return page_views.render_profile(profile_id)


@bp.post("/<int:profile_id>/items")
@login_required
@shopper_required
def add_item(profile_id: int):
    form = ItemForm()
    page_views.item_choices(form)
    if page_views.SHOW_UNITS in request.form:  # another product chosen without JavaScript: show its units
        return page_views.render_profile(profile_id, add_item=form)
    return page_views.act(profile_id, lambda p: items.add_item(
        db.session, user=shopper, actor=current_user, profile=p, product_id=form.product_id.data,
        unit_code=form.unit.data, quantity=form.quantity.data, today=company_today(),
        rules=page_views.rules_now()), "Item added.", form, "add_item")


@bp.post("/<int:profile_id>/items/<int:item_id>")
@login_required
@shopper_required
def change_item(profile_id: int, item_id: int):
    form = ItemChangeForm()
    return page_views.act(profile_id, lambda p: items.change_item(
        db.session, user=shopper, actor=current_user,
        profile=p, item_id=item_id, unit_code=form.unit.data,
        quantity=form.quantity.data, today=company_today(), rules=page_views.rules_now()), "Item updated.", form)


@bp.post("/<int:profile_id>/items/<int:item_id>/remove")
@login_required
@shopper_required
def remove_item(profile_id: int, item_id: int):
    return page_views.act(profile_id, lambda p: items.remove_item(
        db.session, user=shopper, actor=current_user, profile=p, item_id=item_id, today=company_today(),
        rules=page_views.rules_now()), "Item removed.")


@bp.post("/<int:profile_id>/schedule")
@login_required
@shopper_required
def change_schedule(profile_id: int):
    form = ScheduleForm()
    if page_views.SHOW_FIELDS in request.form:  # another kind chosen without JavaScript: show its fields
        return page_views.render_profile(profile_id, schedule=form)

    def change(p):
        try:
            rule = form.rule()
        except ValueError as error:
            raise profiles.AutoshipError(str(error), "rrule") from error
        schedule_changes.change_schedule(db.session, user=shopper, actor=current_user,
                                         profile=p, rule=rule,
                                         regularity=form.regularity.data, first_date=form.first_date.data,
                                         today=company_today(), rules=page_views.rules_now())
    return page_views.act(profile_id, change, "Schedule changed.", form, "schedule")


@bp.post("/<int:profile_id>/next-date")
@login_required
@shopper_required
def change_next_date(profile_id: int):
    form = NextDateForm()
    if (asked := ask_if_volume_leaves(profile_id, "move", form, new_date=form.new_date.data)) is not None:
        return asked
    return page_views.act(profile_id, lambda p: schedule_changes.change_next_date(
        db.session, user=shopper, actor=current_user, profile=p, new_date=form.new_date.data,
        move_anchor=form.mode.data == "anchor", today=company_today(), rules=page_views.rules_now()),
        "Next shipment date changed.", form, "next_date")


@bp.post("/<int:profile_id>/skip")
@login_required
@shopper_required
def skip(profile_id: int):
    form = DayForm()
    asked = ask_all(loyalty_views.streak_question(profile_id, skipping=form.day.data),
                    volume_question(profile_id, "skip", form, day=form.day.data))
    if asked is not None:
        return asked
    return page_views.act(profile_id, lambda p: schedule_changes.skip_date(
        db.session, user=shopper, actor=current_user,
        profile=p, day=form.day.data, today=company_today(),
        rules=page_views.rules_now()), "Shipment skipped.", form)


@bp.post("/<int:profile_id>/unskip")
@login_required
@shopper_required
def unskip(profile_id: int):
    form = DayForm()
    return page_views.act(profile_id, lambda p: schedule_changes.unskip_date(
        db.session, user=shopper, actor=current_user,
        profile=p, day=form.day.data, today=company_today(),
        rules=page_views.rules_now()),
        lambda shipping: f"{day(shipping, 'long_short')} is a shipment date again.", form)


@bp.post("/<int:profile_id>/pause")
@login_required
@shopper_required
def pause(profile_id: int):
    form = PauseForm()
    asked = ask_all(loyalty_views.streak_question(profile_id, pausing=True, resume_on=form.resume_on.data),
                    volume_question(profile_id, "pause", form, resume_on=form.resume_on.data))
    if asked is not None:
        return asked
    return page_views.act(profile_id, lambda p: lifecycle.pause(
        db.session, user=shopper, actor=current_user, profile=p, resume_on=form.resume_on.data,
        today=company_today(), rules=page_views.rules_now()), "Standing order paused.", form, "pause")


@bp.post("/<int:profile_id>/resume-date")
@login_required
@shopper_required
def change_resume_date(profile_id: int):
    form = ResumeDateForm()
    return page_views.act(profile_id, lambda p: lifecycle.change_resume_date(
        db.session, user=shopper, actor=current_user,
        profile=p, resume_on=form.resume_on.data, today=company_today()),
        lambda _: f"Resume date changed to {day(form.resume_on.data, 'long')}.", form, "resume_date")


@bp.post("/<int:profile_id>/resume")
@login_required
@shopper_required
def resume(profile_id: int):
    return page_views.act(profile_id, lambda p: lifecycle.resume(
        db.session, user=shopper, actor=current_user, profile=p, today=company_today()),
        "Standing order active again.")


@bp.post("/<int:profile_id>/cancel")
@login_required
@shopper_required
def cancel(profile_id: int):
    """Cancel, keeping the reason given on the reason page (``retention.reason_page``), if any."""
    form = CancelForm()
    return page_views.act(profile_id, lambda p: cancellation.cancel_with_reason(
        db.session, user=shopper, actor=current_user, profile=p, reason=form.reason.data,
        details=form.details.data, key=form.key_or_new(), today=company_today(),
        rules=page_views.rules_now()),
        lambda answered: ("Already done. " if answered.repeated else "") + answered.record.answer, form)


@bp.post("/<int:profile_id>/ship-now")
@login_required
@shopper_required
def ship_now(profile_id: int):
    try:  # the date the page offered; a page from before this field ships the current one
        offered = date.fromisoformat(request.form.get("due", ""))
    except ValueError:
        offered = None
    if not confirmed():
        return page_views.ask_to_ship_now(profile_id, offered)
    return page_views.act(profile_id, lambda p: shipping_now.ship_now(
        db.session, user=shopper, actor=current_user, profile=p, gateway=gateway_for(),
        shipping=shipping_rule(current_app.config), today=company_today(),
        base_url=site_url(), offered=offered),
        lambda order: f"Order {order.number} placed and paid: {money(order.total)}.")


@bp.post("/<int:profile_id>/rename")
@login_required
@shopper_required
def rename(profile_id: int):
    form = RenameForm()
    return page_views.act(profile_id, lambda p: lifecycle.rename(db.session, user=shopper, actor=current_user,
                                                                 profile=p,
                                                      name=form.name.data), "Renamed.", form, "rename")


@bp.post("/<int:profile_id>/delivery")
@login_required
@shopper_required
def delivery(profile_id: int):
    form = DeliveryForm()
    return page_views.act(profile_id, lambda p: lifecycle.change_delivery(
        db.session, user=shopper, actor=current_user, profile=p, address_id=form.address_id.data,
        card_id=form.card_id.data, shipping_method=form.shipping_method.data,
        price_policy=form.price_policy.data, out_of_stock_policy=form.out_of_stock_policy.data,
        today=company_today(), rules=page_views.rules_now()), "Delivery and payment saved.", form, "delivery")


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
        profile = creation.profile_from_cart(db.session, user=shopper, actor=current_user,
                                             today=company_today(),
                                             rules=page_views.rules_now(), profile_id=profile_id)
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
                      message=form_messages(form) or "Choose a product and a standing order.")
    with refusal() as refused:
        profile = creation.subscribe(db.session, user=shopper, actor=current_user, product_id=product_id,
                                     unit_code=form.unit.data, quantity=form.quantity.data,
                                     profile_id=profile_id,
                                     today=company_today(), rules=page_views.rules_now())
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
    """Issue the calendar link ("issue", also to replace one) or turn it off ("revoke"); replacing
    or turning off a link that works asks first (calendars subscribed with it stop updating)."""
    revoke = request.form.get("action") == "revoke"
    active = calendar_tokens.current_calendar_link(db.session, user=current_user)
    if active is not None and not confirmed():
        return page_views.ask_before_replacing_calendar_link(active, revoke=revoke)
    if revoke:
        calendar_tokens.revoke_calendar_token(db.session, user=current_user)
        cookie_session.pop(page_views.NEW_CALENDAR_TOKEN, None)
        message, token = "Your calendar link no longer works.", None
    else:
        token = calendar_tokens.issue_calendar_token(db.session, user=current_user)
        message = ("Your new calendar link is ready. Copy it now: it is shown only this once."
                   + (" The earlier one no longer works." if active else ""))
    if request.htmx:
        return render("autoship/_calendar.html", message=message, **page_views.calendar_context(token))
    if token:
        cookie_session[page_views.NEW_CALENDAR_TOKEN] = token
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
