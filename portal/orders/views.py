from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from portal.extensions import db
from portal.ids import parse_id
from portal.fulfilment.queries import order_tracking, shipping_outlook
from portal.oneclick.views import on_here as oneclick_on_here
from portal.orders.rules import order_number
from portal.orders.services import order_for, order_history_query
from portal.payments.services import wallet
from portal.pagination import page_number, paginate
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("orders", __name__, url_prefix="/orders")
bp.add_app_template_filter(order_number)  # "SO00000042" on any page that names an order


@bp.get("/")
@login_required
@shopper_required
def history():
    page = paginate(db.session, order_history_query(current_user),
                    page_number(request.args.get("page")), current_app.config["ADMIN_PAGE_SIZE"])
    return render("orders/history.html", "orders/_history.html", page=page)


@bp.get("/<int:order_id>")
@login_required
@shopper_required
def detail(order_id: int):
    order = order_for(db.session, current_user, order_id)
    return render("orders/detail.html", order=order, confirmation=False,
                  outlook=shipping_outlook(db.session, order), cards=wallet(db.session, current_user),
                  shipped=order_tracking(db.session, order.id, current_app.config["TRACKING_URLS"]))


@bp.post("/<int:order_id>/pay")
@login_required
@shopper_required
def pay(order_id: int):
    """Pay a declined order now, with the same card or another one from the wallet."""
    from portal.orders.charging import charge
    from portal.clock import company_today
    from portal.orders.billing import prepare_retry_by_member
    from portal.payments.services import usable_card

    order = order_for(db.session, current_user, order_id)
    card_id = parse_id(request.form.get("card_id"))
    if card_id is None:
        return render("errors/error.html", status=422, title="Not paid", message="Choose a card.")
    with refusal() as refused:
        card = usable_card(db.session, current_user, card_id, company_today())
        prepare_retry_by_member(db.session, order=order, card=card)
    if refused:
        return render("errors/error.html", status=refused.status, title="Not paid",
                      message=refused.message)
    # The attempt row is committed before the gateway is called, the outcome after it.
    result = charge(current_app._get_current_object(), db.session, [order.id], company_today())
    if result.paid:
        flash(f"Thank you: order {order.number} is paid.", "success")
    else:
        flash("That card was declined too. Try another card, or we will try again as scheduled.", "error")
    return redirect(url_for("orders.detail", order_id=order.id), 303)


@bp.get("/<int:order_id>/confirmation")
@login_required
@shopper_required
def confirmation(order_id: int):
    return render("orders/detail.html", order=order_for(db.session, current_user, order_id),
                  confirmation=True, oneclick_on_here=oneclick_on_here())
