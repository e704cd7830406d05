"""1-Click pages and the single-action endpoint.

Ordering needs no login: the browser's client identifier and the person chosen among those
tied to it are enough. Seeing or changing addresses, cards and 1-Click settings
needs a normal login.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import request
from wtforms.fields.choices import SelectChoice

from portal.accounts.views import safe_next
from portal.addresses.models import Address
from portal.addresses.services import address_book
from portal.clock import company_today
from portal.clock import utcnow
from portal.confirmations import ask_first, confirmed
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.formatting import money
from portal.oneclick import queries
from portal.oneclick.confirmation import Confirmation
from portal.oneclick.errors import ClientRevoked
from portal.oneclick.press import place_oneclick_order
from portal.oneclick.rules import BUTTON_NOT_VALID, rules_from
from portal.oneclick.settings import (disable_everywhere, disable_here, disable_on_client,
                                      enable_from_order as enable_with_order, enable_oneclick)
from portal.oneclick.window import cancel_oneclick_line, cancel_oneclick_order, cancel_oneclick_press
from portal.oneclick.forms import ConfirmForm, PressForm, SettingsForm
from portal.oneclick.identifiers import hash_token, new_token, set_token_cookie, token_from
from portal.orders.models import Order
from portal.payments.services import wallet
from portal.roles import shopper_required
from portal.templating import render, render_fragment
from portal.unit_of_work import refusal
from portal.user_agents import describe_user_agent

bp = Blueprint("oneclick", __name__)


# --- The browser's identifier ------------------------------------------------------------------

def browser_token_hash() -> str | None:
    token = g.get("oneclick_new_token") or token_from(request)
    return hash_token(token) if token else None


def token_for_enabling() -> str:
    """This browser's token, or a new one if it has none or its identifier was revoked."""
    token = g.get("oneclick_new_token") or token_from(request)
    if token is not None:
        client = queries.client_by_hash(db.session, hash_token(token))
        if client is None or client.revoked_at is None:
            return token
    token = g.oneclick_new_token = new_token()
    return token


@bp.after_app_request
def issue_identifier(response):
    """The server, not the browser, assigns the browser its identifier, the first time it
    shows it a 1-Click button or settings page; the cookie goes out with that response."""
    token = g.pop("oneclick_new_token", None)
    if token is not None:
        set_token_cookie(response, token)
    return response


def panel_here() -> queries.Panel:
    """The 1-Click panel for the item pages of this request, computed by the view before it
    renders. A browser new to us gets its identifier with the page that shows it a button."""
    token = g.get("oneclick_new_token") or token_from(request)
    viewer = current_user if current_user.is_authenticated else None
    panel = queries.oneclick_panel(db.session, viewer=viewer,
                                   token_hash=hash_token(token) if token else None,
                                   today=company_today(), shipping=rules_from(current_app.config).shipping)
    if panel.visible and token is None:
        g.oneclick_new_token = new_token()
    return panel


def on_here() -> bool:
    """Whether the logged-in person has 1-Click on in this browser."""
    if not current_user.is_authenticated:
        return False
    return queries.setting_here(db.session, current_user, browser_token_hash()) is not None


def masked_ship_to(order: Order) -> str:
    """An order's destination as the item page shows it: "...Springfield 627**"."""
    return Address(city=order.ship_city, postal_code=order.ship_postal_code).masked


# --- Ordering ----------------------------------------------------------------------------------

def refused(status: int, message: str):
    return render("errors/error.html", "errors/_error.html", status=status, title="Not ordered",
                  message=message)


@bp.post("/1-click/buy")
def buy():
    """The single action: the item and the browser's identifier in, an order out."""
    form = PressForm()
    if not form.validate_on_submit():
        return refused(422, form.problems() or BUTTON_NOT_VALID)
    key = form.idempotency_key.data
    with refusal() as press_refused:  # the edge commits the press, or rolls back a refusal
        confirmation, _repeat = place_oneclick_order(
            db.session, token_hash=browser_token_hash(), person_id=form.person.data,
            product_id=form.product_id.data, unit_code=form.unit.data,
            quantity=form.quantity.data, idempotency_key=key,
            rules=rules_from(current_app.config), now=utcnow(), today=company_today())
    if press_refused:
        return refused(press_refused.status, press_refused.message)
    # A repeat gets the same answer as the first request: the same page, or the same redirect.
    if request.htmx:
        return render_fragment("oneclick/_placed.html", confirmation=confirmation, key=key,
                               next_key=queries.Panel.new_key(), compact=form.compact.data,
                               csrf_in_header=True)
    return redirect(url_for("oneclick.placed", key=key), 303)


@bp.get("/1-click/placed/<key>")
def placed(key: str):
    """The confirmation page a plain form submission is redirected to."""
    press = queries.visible_press(db.session, key, user=current_user,
                                  token_hash=browser_token_hash())
    return render("oneclick/placed.html", confirmation=Confirmation.from_json(press.outcome),
                  key=press.idempotency_key, next_key=None)


@bp.post("/1-click/placed/<key>/cancel")
def cancel_press(key: str):
    """"Cancel this item" on a confirmation: the line that press added."""
    press = queries.visible_press(db.session, key, user=current_user,
                                  token_hash=browser_token_hash())
    with refusal() as refused:
        changed = cancel_oneclick_press(
            db.session, press=press, rules=rules_from(current_app.config), now=utcnow())
    if refused:
        return _order_refused(press.order_id, refused.error)
    if request.htmx:  # in place of the confirmation: a line, not the whole order
        return render("oneclick/_cancelled.html", order=changed, message=_cancel_message(changed))
    flash(_cancel_message(changed), "success")
    return redirect(url_for("oneclick.order", order_id=changed.id), 303)


@bp.get("/1-click/orders/<int:order_id>")
def order(order_id: int):
    """An open single-action order: its lines, with a cancel button each while the window lasts."""
    found = queries.visible_oneclick_order(db.session, order_id, user=current_user,
                                           token_hash=browser_token_hash())
    return render("oneclick/order.html", "oneclick/_order.html", **_order_context(found))


def _order_context(found: Order) -> dict:
    window_open = found.status == "open" and found.combine_until is not None \
        and found.combine_until > utcnow()
    return {"order": found, "window_open": window_open, "cancel_form": ConfirmForm(),
            "masked_ship_to": masked_ship_to(found)}


@bp.post("/1-click/orders/<int:order_id>/cancel")
def cancel_order(order_id: int):
    found = queries.visible_oneclick_order(db.session, order_id, user=current_user,
                                           token_hash=browser_token_hash())
    if not confirmed() and _order_context(found)["window_open"]:
        count = sum(line.quantity for line in found.lines)
        return ask_first(
            title=f"Cancel the whole order {found.number}?",
            consequences=[f"All {count} item{'' if count == 1 else 's'} of order {found.number} "
                          f"({money(found.total)}) are cancelled, and nothing is charged.",
                          "To have them after all, you would order them again."],
            action=url_for("oneclick.cancel_order", order_id=found.id),
            button="Yes, cancel the whole order", back=url_for("oneclick.order", order_id=found.id),
            back_label="No, keep the order")
    with refusal() as refused:
        cancel_oneclick_order(db.session, owner_id=found.user_id, order_id=found.id,
                                       now=utcnow())
    if refused:
        return _order_refused(found.id, refused.error)
    return _order_changed(found.id, f"Order {found.number} is cancelled. Nothing was charged.")


@bp.post("/1-click/orders/<int:order_id>/lines/<int:line_id>/cancel")
def cancel_line(order_id: int, line_id: int):
    found = queries.visible_oneclick_order(db.session, order_id, user=current_user,
                                           token_hash=browser_token_hash())
    with refusal() as refused:
        changed = cancel_oneclick_line(
            db.session, owner_id=found.user_id, order_id=found.id, line_id=line_id,
            rules=rules_from(current_app.config), now=utcnow())
    if refused:
        return _order_refused(found.id, refused.error)
    return _order_changed(changed.id, _cancel_message(changed))


def _cancel_message(changed: Order) -> str:
    if changed.status == "cancelled":
        return f"Order {changed.number} is cancelled. Nothing was charged."
    return f"Removed from order {changed.number}; the new total is {money(changed.total)}."


def _order_changed(order_id: int, message: str):
    if request.htmx:
        found = db.session.get(Order, order_id)
        return render("oneclick/_order.html", message=message, **_order_context(found))
    flash(message, "success")
    return redirect(url_for("oneclick.order", order_id=order_id), 303)


def _order_refused(order_id: int, error: DomainError):
    if request.htmx:
        return render("errors/error.html", "errors/_error.html", status=error.status,
                      title="Not changed", message=error.message)
    flash(error.message, "error")
    return redirect(url_for("oneclick.order", order_id=order_id), 303)


# --- Settings (login required) -----------------------------------------------------------------

@bp.route("/1-click/settings", methods=["GET", "POST"])
@login_required
@shopper_required
def settings():
    """Turn 1-Click on for this browser, or change its address, card and shortcuts."""
    here = queries.setting_here(db.session, current_user, browser_token_hash())
    form = SettingsForm(data=_defaults(here) if request.method == "GET" else None)
    addresses, cards, today = address_book(db.session, current_user), \
        wallet(db.session, current_user), company_today()
    form.address_id.choices = [SelectChoice(a.id, f"{a.moniker}: {a.one_line}") for a in addresses]
    form.card_id.choices = [SelectChoice(c.id, f"{c.label} (expires {c.expiry})") for c in cards
                            if not c.expired_on(today)]
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if token_from(request) is None:
            g.oneclick_new_token = new_token()
    if form.validate_on_submit():
        with refusal(form):
            setting = _enable(lambda token: enable_oneclick(
                db.session, user=current_user, token_hash=hash_token(token),
                label=describe_user_agent(request.user_agent.string),
                address_id=form.address_id.data, card_id=form.card_id.data, today=today,
                now=utcnow(), keyboard_shortcut=form.keyboard_shortcut.data,
                voice_action=form.voice_action.data))
            flash(f"1-Click is on for this browser: orders ship to {setting.address.moniker} "
                  f"and are charged to {setting.card.label}.", "success")
            return redirect(safe_next(form.next.data) or url_for("oneclick.settings"), 303)
    return render("oneclick/settings.html", form=form, here=here, addresses=addresses,
                  cards=cards, off_form=ConfirmForm(),
                  status=422 if form.is_submitted() else 200)


def _defaults(here):
    """The current settings, or the address and card of the person's latest order (what they
    used last is the likeliest choice), or their defaults."""
    if here is not None:
        return {"address_id": here.address_id, "card_id": here.payment_method_id,
                "keyboard_shortcut": here.keyboard_shortcut, "voice_action": here.voice_action}
    latest = queries.latest_order(db.session, current_user)
    if latest is not None:
        return {"address_id": latest.address_id, "card_id": latest.payment_method_id}
    return {}


def _enable(enable):
    """Run ``enable(token)`` with this browser's token; once more with a fresh token if the
    identifier was revoked meanwhile."""
    try:
        return enable(token_for_enabling())
    except ClientRevoked:
        db.session.rollback()
        g.oneclick_new_token = new_token()
        return enable(g.oneclick_new_token)


@bp.post("/1-click/from-order/<int:order_id>")
@login_required
@shopper_required
def enable_from_order(order_id: int):
    """"Turn on 1-Click with this address and card" on an order confirmation."""
    with refusal() as refused:
        setting = _enable(lambda token: enable_with_order(
            db.session, user=current_user, order_id=order_id, token_hash=hash_token(token),
            label=describe_user_agent(request.user_agent.string), today=company_today(),
            now=utcnow()))
    if isinstance(refused.error, NotFound):
        raise refused.error  # somebody else's order, or none: a 404 like every other id in a URL
    if refused:
        flash(refused.message, "error")
        return redirect(url_for("oneclick.settings"), 303)
    flash(f"1-Click is on for this browser: orders ship to {setting.address.moniker} and are "
          f"charged to {setting.card.label}.", "success")
    return redirect(url_for("orders.detail", order_id=order_id), 303)


@bp.get("/1-click/")
@login_required
@shopper_required
def devices():
    """Every browser where the person has 1-Click on, with its last use."""
    here_hash = browser_token_hash()
    return render("oneclick/devices.html", devices=queries.devices_of(db.session, current_user),
                  here_hash=here_hash, off_form=ConfirmForm())


@bp.post("/1-click/off-here")
@login_required
@shopper_required
def off_here():
    if disable_here(db.session, user=current_user, token_hash=browser_token_hash(),
                             now=utcnow()):
        flash("1-Click is off on this browser.", "success")
    else:
        flash("1-Click was not on for you on this browser.", "info")
    return redirect(url_for("oneclick.devices"), 303)


@bp.post("/1-click/devices/<int:client_id>/off")
@login_required
@shopper_required
def off_device(client_id: int):
    disable_on_client(db.session, user=current_user, client_id=client_id, now=utcnow())
    flash("1-Click is off on that browser.", "success")
    return redirect(url_for("oneclick.devices"), 303)


@bp.post("/1-click/off-everywhere")
@login_required
@shopper_required
def off_everywhere():
    count = disable_everywhere(db.session, user=current_user, now=utcnow())
    flash(f"1-Click is off on every browser ({count}).", "success")
    return redirect(url_for("oneclick.devices"), 303)


@bp.get("/healthz")
def healthz():
    """A trivial endpoint: load balancers, and the benchmark's measure of the stack's ceiling."""
    return "ok\n", 200, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
