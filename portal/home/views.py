from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user, login_required

from portal.autoship.queries import needing_a_schedule, upcoming_for_person
from portal.clock import company_today
from portal.extensions import db
from portal.genealogy.queries import downline_counts_by_level, downline_size, direct_recruits
from portal.orders.services import order_history_query
from portal.templating import render

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    if current_user.is_staff:
        return redirect(url_for(_staff_home()))
    return redirect(url_for("home.dashboard"))


def _staff_home() -> str:
    return "admin.index" if current_user.is_admin else "support.members"


@bp.get("/home")
@login_required
def dashboard():
    if current_user.is_staff:
        return redirect(url_for(_staff_home()))
    recent_orders = list(db.session.scalars(order_history_query(current_user).limit(5)))
    context = {"recent_orders": recent_orders,
               "upcoming": upcoming_for_person(db.session, current_user, company_today())[:6],
               "needing_a_schedule": needing_a_schedule(db.session, current_user)}
    if current_user.is_ibo:
        context.update(downline_total=downline_size(db.session, current_user),
                       downline_levels=downline_counts_by_level(db.session, current_user, 5),
                       recruits=direct_recruits(db.session, current_user)[:10])
    return render("home/dashboard.html", **context)
