"""Team volume for uplines (``/team/volume``), one of the team pages: the downline's volume by
leg and by level in a period, who is close to their next rank and what each needs, and the
same people as a CSV file.

Whose team, and who may look, exactly as on the other team pages (``portal.downline.views``):
an IBO sees their own downline, an admin picks an IBO with ``?as=``, members get 403.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, abort, stream_with_context
from flask_login import login_required
from htmx_flask import request

from portal.clock import company_today
from portal.spreadsheet import SafeWriter
from portal.downline.views import picked_scope, team_helpers, team_required, team_scope
from portal.extensions import db
from portal.pagination import page_number
from portal.templating import render
from portal.volume.periods import period_text, previous_periods
from portal.volume.rank_plans import plan_in_force
from portal.volume.standing import standing_of
from portal.volume.team import (DEFAULT_SHARE, SHARES, VolumeRow, close_to_next_rank,
                                team_volume_rows, volume_by_level)
from portal.volume.views import chosen_period

bp = Blueprint("team_volume", __name__, url_prefix="/team/volume")
bp.context_processor(team_helpers)  # team_url and the status labels, as on every team page

HEADER = ["member_number", "first_name", "last_name", "role", "level", "sponsor", "period",
          "pv", "gv", "rank"]
FLUSH_ROWS = 500


def chosen_share() -> int:
    """The share of ``?close=`` (percent); anything not offered is a 400 that says what is."""
    raw = request.args.get("close")
    if raw is None or raw == "":
        return DEFAULT_SHARE
    if not raw.isdigit() or int(raw) not in SHARES:
        abort(400, "Choose how close as one of " + ", ".join(f"{s}%" for s in SHARES) + ".")
    return int(raw)


@bp.get("")
@login_required
@team_required
def index():
    scope = team_scope()
    if scope is None:
        return render("downline/pick.html", title="Team volume", endpoint=request.endpoint,
                      view_args={})
    today = company_today()
    period, share = chosen_period(today), chosen_share()
    _version, plan = plan_in_force(db.session, period)
    close = close_to_next_rank(db.session, scope, period, plan, share=share,
                               number=page_number(request.args.get("page")))
    context = dict(scope=scope, period=period, share=share, shares=SHARES, close=close,
                   chosen=period_text(period),
                   period_choices=[period_text(p) for p in previous_periods(today.replace(day=1), 24)][::-1])
    if request.htmx and request.args.get("page"):
        return render("volume/_close_list.html", **context)
    standing = standing_of(db.session, scope, period)
    return render("volume/team.html", "volume/_team.html", standing=standing,
                  levels=volume_by_level(db.session, scope, period),
                  rank_names={rank.code: rank.name for rank in plan.ranks}, **context)


@bp.get("/export.csv")
@login_required
@team_required
def export():
    scope = picked_scope()
    today = company_today()
    period = chosen_period(today)
    _version, plan = plan_in_force(db.session, period)
    rows = team_volume_rows(db.session, scope, period, plan)  # runs as the response streams
    response = Response(stream_with_context(csv_chunks(rows, period_text(period))), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="team-volume-{scope.member_number}-{period_text(period)}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_chunks(rows: Iterable[VolumeRow], period: str, flush_rows: int = FLUSH_ROWS) -> Iterator[str]:
    """The header and a line per person, every cell made safe from spreadsheet formulas as in
    every export (``portal.spreadsheet``)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(HEADER)
    for count, row in enumerate(rows, 1):
        writer.writerow([row.member_number, row.first_name, row.last_name, row.role, row.level,
                         row.sponsor_number, period, f"{row.pv:.2f}", f"{row.gv:.2f}", row.rank])
        if count % flush_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
