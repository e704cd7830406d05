"""The member's Points page, and the choice to pay a standing order with points."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_login import current_user, login_required
from htmx_flask import request

from portal.autoship.profiles import owned_profile
from portal.extensions import db
from portal.forms import form_messages
from portal.loyalty.forms import PointsChoiceForm
from portal.loyalty.queries import points_statement
from portal.loyalty.standing import choose_points, uses_points
from portal.roles import shopper_required
from portal.templating import render

bp = Blueprint("loyalty", __name__, url_prefix="/points")


def statement_now():
    return points_statement(db.session, current_user.id,
                            timezone=current_app.config["COMPANY_TIMEZONE"])


@bp.get("/")
@login_required
@shopper_required
def index():
    return render("loyalty/points.html", statement=statement_now())


def choice_context(profile) -> dict:
    """What the standing-order page shows of points: the choice and the balance."""
    return {"points_choice": uses_points(db.session, profile.id), "points": statement_now()}


@bp.post("/standing-orders/<int:profile_id>")
@login_required
@shopper_required
def choose(profile_id: int):
    profile = owned_profile(db.session, current_user, profile_id)
    form = PointsChoiceForm()
    if not form.validate_on_submit():
        flash(form_messages(form), "error")
        status = 422
    else:
        use = choose_points(db.session, profile, form.use_points.data == "yes")
        flash("Your points will pay for what they cover when this standing order is charged." if use
              else "This standing order is charged to your card alone.", "success")
        status = 200
        if not request.htmx:
            return redirect(url_for("autoship.profile", profile_id=profile.id), 303)
    return render("loyalty/choice_page.html", "loyalty/_choice.html", status=status, p=profile,
                  **choice_context(profile))
