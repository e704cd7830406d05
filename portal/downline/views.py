"""Team views: an upline manager looks at their downline's standing orders, read-only.

Whose downline: an IBO's own, always (any ``as`` is ignored). An admin picks an IBO with
``?as=<member number>`` and sees exactly what that IBO would; without one, a picker. Members
get 403. Every person named in a URL is looked up inside the viewer's downline range, so an
id outside it is a 404 whether it exists or not.
"""

from __future__ import annotations

import csv
import io

from flask import (Blueprint, Response, abort, current_app, redirect, request,
                   stream_with_context, url_for)
from flask_login import current_user, login_required
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.autoship.profiles import AutoshipRules
from portal.clock import company_today
from portal.downline import queries
from portal.downline.forms import filter_args, parse_filters
from portal.errors import NotFound
from portal.extensions import db
from portal.orders.pricing import shipping_rule
from portal.roles import role_required
from portal.templating import is_htmx, render

bp = Blueprint("downline", __name__, url_prefix="/team")
team_required = role_required(Role.IBO, Role.ADMIN)
PAGE_SIZE = 50
CSV_FLUSH_ROWS = 500


def team_scope() -> User | None:
    """The IBO whose downline is shown; None when an admin has not picked one yet."""
    if current_user.role == Role.IBO:
        return current_user
    number = (request.args.get("as") or "").strip()
    if not number:
        return None
    person = None
    if queries.MEMBER_NUMBER.fullmatch(number):
        person = db.session.scalar(select(User).where(User.member_number == number,
                                                      User.role == Role.IBO,
                                                      User.tree_path.is_not(None)))
    if person is None:
        raise NotFound("There is no IBO with that member number.")
    return person


def _scope_args() -> dict[str, str]:
    if current_user.is_authenticated and current_user.role == Role.ADMIN and request.args.get("as"):
        return {"as": request.args["as"].strip()}
    return {}


@bp.context_processor
def team_helpers():
    def team_url(endpoint: str, **values) -> str:
        return url_for(endpoint, **_scope_args(), **values)
    return {"team_url": team_url, "status_labels": queries.STATUS_LABELS}


def _picker(title: str):
    return render("downline/pick.html", title=title, endpoint=request.endpoint,
                  view_args=request.view_args or {})


def _page_size() -> int:
    """Rows per page from ``size`` (1-200); anything else means the default."""
    raw = request.args.get("size", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 0 < int(raw) <= queries.MAX_PAGE_SIZE:
        return int(raw)
    return PAGE_SIZE


@bp.get("/")
@login_required
@team_required
def index():
    return redirect(url_for("downline.autoships", **_scope_args()))


@bp.get("/autoships")
@login_required
@team_required
def autoships():
    scope = team_scope()
    if scope is None:
        return _picker("Downline autoships")
    filters, notices = parse_filters(request.args)
    cursor = request.args.get("cursor") or None
    size = _page_size()
    page = queries.team_page(db.session, scope, filters, cursor=cursor, size=size)
    args = filter_args(filters) | ({"size": str(size)} if size != PAGE_SIZE else {})
    context = dict(scope=scope, page=page, filters=filters, notices=notices,
                   args=args, today=company_today(),
                   sorts=queries.SORT_LABELS, statuses=queries.STATUSES)
    if is_htmx() and cursor:
        return render("downline/_rows.html", **context)
    return render("downline/autoships.html", "downline/_results.html", **context)


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/autoships.csv")
@login_required
@team_required
def autoships_csv():
    scope = team_scope()
    if scope is None:
        abort(404, "Pick an IBO first.")
    filters, _ = parse_filters(request.args)
    today = company_today()
    session = db.session

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["member_number", "first_name", "last_name", "level", "sponsor",
                         "autoship_status", "next_run_date", "cycle_pv", "days_since_last_order"])
        count = 0
        for row in queries.team_rows(session, scope, filters):
            days = row.days_since_last_order(today)
            writer.writerow([_csv_cell(row.member_number), _csv_cell(row.first_name),
                             _csv_cell(row.last_name), row.level, row.sponsor_number or "",
                             row.status, row.next_run.isoformat() if row.next_run else "",
                             f"{row.pv:.2f}", "" if days is None else days])
            count += 1
            if count % CSV_FLUSH_ROWS == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="downline-autoships-{scope.member_number}-{today.isoformat()}.csv"')
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/totals")
@login_required
@team_required
def totals():
    scope = team_scope()
    if scope is None:
        return _picker("Team totals")
    summary = queries.team_totals(db.session, scope, company_today())
    return render("downline/totals.html", scope=scope, totals=summary,
                  chart=bar_chart(summary))


def bar_chart(summary: queries.TeamTotals) -> dict:
    """Geometry of the stacked bar chart (levels 1, 2, 3 and 4+ per month), in SVG units."""
    width, height, top, bottom, left = 480, 240, 20, 40, 70
    bands = [("Level 1", lambda lvl: lvl == 1), ("Level 2", lambda lvl: lvl == 2),
             ("Level 3", lambda lvl: lvl == 3), ("Level 4+", lambda lvl: lvl >= 4)]
    biggest = max((month.pv for month in summary.months), default=0) or 1
    plot = height - top - bottom
    slot = (width - left) / max(len(summary.months), 1)
    bars = []
    for index, month in enumerate(summary.months):
        x = left + index * slot + slot * 0.2
        y = height - bottom
        segments = []
        for band, (label, keep) in enumerate(bands):
            value = sum((pv for lvl, pv in month.pv_by_level.items() if keep(lvl)), start=0)
            h = float(value) / float(biggest) * plot
            y -= h
            if h > 0:
                segments.append({"y": round(y, 1), "h": round(h, 1), "band": band + 1,
                                 "label": label, "value": value})
        bars.append({"x": round(x, 1), "w": round(slot * 0.6, 1), "segments": segments,
                     "label": month.month.strftime("%b %Y"), "total": month.pv,
                     "label_x": round(x + slot * 0.3, 1), "total_y": round(y - 5, 1)})
    ticks = [{"y": round(height - bottom - plot * f, 1), "value": float(biggest) * f}
             for f in (0, 0.5, 1)]
    return {"width": width, "height": height, "left": left, "axis_y": height - bottom,
            "bars": bars, "ticks": ticks, "bands": [b[0] for b in bands]}


@bp.get("/attention")
@login_required
@team_required
def attention():
    scope = team_scope()
    if scope is None:
        return _picker("Needs attention")
    cursor = request.args.get("cursor") or None
    rules = AutoshipRules.from_config(current_app.config)
    page = queries.attention_page(db.session, scope, today=company_today(), min_pv=rules.min_pv,
                                  cursor=cursor, size=_page_size())
    context = dict(scope=scope, page=page, min_pv=rules.min_pv)
    if is_htmx() and cursor:
        return render("downline/_attention_rows.html", **context)
    return render("downline/attention.html", **context)


@bp.get("/tree")
@login_required
@team_required
def tree():
    scope = team_scope()
    if scope is None:
        return _picker("Team tree")
    nodes, after = queries.direct_recruits_page(db.session, scope, after=_tree_cursor())
    if is_htmx() and request.args.get("after"):
        return render("downline/_tree_nodes.html", nodes=nodes, after=after, parent=scope, root=True)
    return render("downline/tree.html", scope=scope, nodes=nodes, after=after, parent=scope, root=True)


def _tree_cursor() -> str | None:
    after = request.args.get("after", "")[:512]
    return after if queries._PATH.fullmatch(after) else None


@bp.get("/tree/<member_number>")
@login_required
@team_required
def recruits(member_number: str):
    scope = team_scope()
    if scope is None:
        abort(404, "Pick an IBO first.")
    parent = queries.person_in_downline(db.session, scope, member_number)
    nodes, after = queries.direct_recruits_page(db.session, parent, after=_tree_cursor())
    if is_htmx():
        return render("downline/_tree_nodes.html", nodes=nodes, after=after, parent=parent, root=False)
    return render("downline/tree.html", scope=scope, nodes=nodes, after=after, parent=parent, root=False)


@bp.get("/people/<member_number>")
@login_required
@team_required
def person(member_number: str):
    scope = team_scope()
    if scope is None:
        abort(404, "Pick an IBO first.")
    person = queries.person_in_downline(db.session, scope, member_number)
    today = company_today()
    views = queries.person_profiles(db.session, person, today=today,
                                    rules=AutoshipRules.from_config(current_app.config),
                                    shipping=shipping_rule(current_app.config))
    sponsor = db.session.get(User, person.sponsor_id) if person.sponsor_id else None
    return render("downline/person.html", scope=scope, person=person, views=views, today=today,
                  level=person.depth - scope.depth, sponsor=sponsor)

