from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required

from portal.extensions import db
from portal.orders.services import order_for, order_history_query
from portal.pagination import page_number, paginate
from portal.roles import shopper_required
from portal.templating import render

bp = Blueprint("orders", __name__, url_prefix="/orders")


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
    return render("orders/detail.html", order=order_for(db.session, current_user, order_id),
                  confirmation=False)


@bp.get("/<int:order_id>/confirmation")
@login_required
@shopper_required
def confirmation(order_id: int):
    return render("orders/detail.html", order=order_for(db.session, current_user, order_id),
                  confirmation=True)
