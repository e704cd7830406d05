"""What the member's standing-order pages share: rendering a standing order's page, answering
an action on it (the refusal beside its field or above the profile), the forms' choices, the
confirmation before "Ship now" and the calendar link's section. The routes are in ``views``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import current_app, flash, redirect, url_for
from flask import session as cookie_session
from portal.acting import acting_here, shopper
from htmx_flask import request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from portal.addresses.services import address_book
from portal.autoship import calendar_tokens, loyalty_views, profiles, queries, schedule_changes, shipping_now
from portal.autoship.forms import (DeliveryForm, ItemForm, NextDateForm, PauseForm, RenameForm, ResumeDateForm,
                                   ScheduleForm, schedule_fields_for)
from portal.autoship.models import AutoshipProfile, Regularity
from portal.catalog.models import Product
from portal.clock import company_today
from portal.confirmations import ask_first
from portal.errors import DomainError
from portal.extensions import db
from portal.forms import form_messages
from portal.formatting import day, local_time, money
from portal.orders.pricing import shipping_rule, totals
from portal.payments.models import PaymentMethod
from portal.payments.services import wallet
from portal.templating import render
from portal.unit_of_work import refusal

SHOW_FIELDS = "show_fields"  # the schedule editor's button that re-renders it for the kind chosen
SHOW_UNITS = "show_units"  # the item form's button that re-renders it for the product chosen
NEW_CALENDAR_TOKEN = "autoship_new_calendar_token"  # in the cookie session until shown once


def rules_now() -> profiles.AutoshipRules:
    return profiles.AutoshipRules.from_config(current_app.config)


def item_choices(form: ItemForm) -> None:
    """The products on offer, and the units of the one chosen (else of the first, which is the
    one a browser shows chosen): only a product's own units, so that no one is offered, say, a
    lot of what is not sold by the lot."""
    products = db.session.scalars(select(Product).where(Product.active.is_(True))
                                  .order_by(Product.name)).all()
    form.product_id.choices = [SelectChoice(p.id, f"{p.name} ({p.sku})") for p in products]
    chosen = next((p for p in products if p.id == form.product_id.data), products[0] if products else None)
    form.unit.choices = [SelectChoice(u.code, u.label) for u in chosen.sellable_units] if chosen else []


def delivery_choices(form) -> None:
    today = company_today()
    form.address_id.choices = [SelectChoice(a.id, f"{a.moniker}: {a.one_line}")
                               for a in address_book(db.session, shopper)]
    form.card_id.choices = [SelectChoice(c.id, f"{c.label} (expires {c.expiry})")
                            for c in wallet(db.session, shopper) if not c.expired_on(today)]


def render_profile(profile_id: int, status: int = 200, error: str | None = None, **forms):
    db.session.expire_all()
    profile = profiles.owned_profile(db.session, shopper, profile_id)
    today = company_today()
    delivery = forms.pop("delivery", None) or DeliveryForm(formdata=None, obj=profile)
    delivery_choices(delivery)
    delivery.card_id.data = delivery.card_id.data or profile.payment_method_id
    schedule_open = "schedule" in forms  # a schedule typed and sent back: keep the editor open
    schedule = forms.pop("schedule", None) or ScheduleForm(
        formdata=None, first_date=max(profile.next_run_date or today, today), regularity=profile.regularity,
        **schedule_fields_for(profile.rrule))
    add_item = forms.pop("add_item", None) or ItemForm(formdata=None)
    item_choices(add_item)
    return render("autoship/profile.html", "autoship/_profile.html", status=status, error=error,
                  summary=queries.summarize(profile, today, rules_now(), shipping_rule(current_app.config),
                                            last_ordered=last_ordered([profile]).get(profile.id)),
                  history=queries.history(db.session, profile),
                  orders=queries.recent_orders(db.session, profile), today=today,
                  delivery=delivery, schedule=schedule, schedule_open=schedule_open, add_item=add_item,
                  # the card notices' link: the page opens where the card is changed
                  delivery_open=request.args.get("change") == "card",
                  next_date=forms.pop("next_date", None) or NextDateForm(formdata=None),
                  pause=forms.pop("pause", None) or PauseForm(formdata=None),
                  resume_date=forms.pop("resume_date", None)
                  or ResumeDateForm(formdata=None, resume_on=profile.paused_until),
                  rename=forms.pop("rename", None) or RenameForm(formdata=None, name=profile.name),
                  ship_now_date=shipping_now.ship_now_date(profile, today),
                  charge_card=db.session.get(PaymentMethod, profile.payment_method_id),
                  rules=rules_now(), owner=shopper, **loyalty_views.points_context(profile))


def last_ordered(found) -> dict[int, date]:
    return profiles.last_ordered_dates(db.session, [p.id for p in found])


def act(profile_id: int, change: Callable[[AutoshipProfile], object],
        done: str | Callable[[object], str], form=None, form_name: str | None = None):
    """Validate ``form``, apply ``change`` to the person's profile, and answer with the
    refreshed profile (htmx) or a redirect to it; a refusal is a 4xx with its message.
    ``done`` is the message of success, or makes it from what ``change`` returned (the edge
    commits; should that fail, the message is taken back with the rest)."""
    profile = profiles.owned_profile(db.session, shopper, profile_id)
    forms = {form_name: form} if form_name else {}
    if form is not None and not form.validate_on_submit():
        return render_profile(profile_id, 422, form_messages(form), **forms)
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


def first_shipment(form: ScheduleForm) -> date | None:
    """When the schedule the form describes first ships, for the page to say; None when the
    fields describe no schedule that would be accepted."""
    if form.first_date.data is None:
        return None
    try:
        return schedule_changes.preview(form.rule(), form.regularity.data, form.first_date.data, 1)[0]
    except (ValueError, DomainError):
        return None


def ask_to_ship_now(profile_id: int, offered: date | None):
    """What "Ship now" would charge and which shipment it is, before anything is charged; what
    it would refuse is refused here already."""
    profile = profiles.owned_profile(db.session, shopper, profile_id)
    today = company_today()
    with refusal() as refused:
        offer = shipping_now.check_ship_now(db.session, user=shopper, profile=profile,
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


def calendar_context(new_token: str | None = None) -> dict:
    """The calendar link's state for the standing-orders page: the link itself only right after
    it was issued (only its hash is kept), else since when one is active. Staff acting for the
    member get none: the link is the member's secret."""
    if acting_here():
        return {"calendar_link": None, "new_calendar_link": None, "calendar_hidden": True}
    link = calendar_tokens.current_calendar_link(db.session, user=shopper)
    new_token = new_token or cookie_session.pop(NEW_CALENDAR_TOKEN, None)
    if new_token and calendar_tokens.feed_owner(db.session, new_token) is None:
        new_token = None  # replaced or turned off since
    return {"calendar_link": link, "new_calendar_link": new_token and url_for(
        "autoship.calendar_feed", token=new_token, _external=True)}


def ask_before_replacing_calendar_link(active, *, revoke: bool):
    """The question before a calendar link that works is replaced or turned off: calendars
    subscribed with it stop updating."""
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
