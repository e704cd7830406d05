"""The report card (``/volume``): a person's volume and rank for a period, what the next rank
still needs, where their standing orders take it by the period's end, and the last 12 periods.

A member (customer) sees their own PV only: no group, legs or rank. A period that is malformed
or has not started is a 400 that says why.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort
from flask_login import current_user, login_required
from htmx_flask import request

from portal.accounts.models import Role
from portal.clock import company_today
from portal.extensions import db
from portal.roles import shopper_required
from portal.templating import render
from portal.volume.history_chart import history_chart
from portal.volume.periods import BadPeriod, parse_period, period_text, previous_periods
from portal.volume.projection import project_standing
from portal.volume.standing import history_of, standing_of

bp = Blueprint("volume", __name__)
HISTORY_PERIODS = 12


def chosen_period(today: date) -> date:
    """The period of ``?period=YYYY-MM`` (this one when absent); a 400 with the reason when it
    is malformed or has not started."""
    raw = request.args.get("period")
    if raw is None or not raw.strip():
        return today.replace(day=1)
    try:
        return parse_period(raw[:40], today=today)
    except BadPeriod as error:
        abort(400, str(error))


@bp.get("/volume")
@login_required
@shopper_required
def report_card():
    today = company_today()
    period = chosen_period(today)
    standing = standing_of(db.session, current_user, period)
    group = current_user.role == Role.IBO
    projection = project_standing(db.session, current_user, standing, today=today)
    periods = previous_periods(period, HISTORY_PERIODS)
    history = history_of(db.session, current_user, periods)
    names = {rank.code: rank.name for rank in standing.plan.ranks}
    return render("volume/report_card.html", "volume/_report_card.html", standing=standing,
                  projection=projection, group=group, period=period, today=today,
                  chart=history_chart(history, rank_names=names, group=group),
                  period_choices=[period_text(p) for p in previous_periods(today.replace(day=1), 24)][::-1],
                  chosen=period_text(period), rank_names=names)
