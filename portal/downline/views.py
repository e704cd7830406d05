"""Team views: an upline manager looks at their downline's standing orders, read-only.

Whose downline: an IBO's own, always (any ``as`` is ignored). An admin picks an IBO with
``?as=<member number>`` and sees exactly what that IBO would; without one, a picker. Members
get 403. Every person named in a URL is looked up inside the viewer's downline range, so an
id outside it is a 404 whether it exists or not.
"""

from __future__ import annotations

from flask import (Blueprint, Response, abort, current_app, redirect,
                   stream_with_context, url_for)
from flask_login import current_user, login_required
from htmx_flask import request

from portal.accounts.models import Role, User
from portal.autoship.profiles import AutoshipRules
from portal.clock import company_today
from portal.downline.attention import RECENT_DAYS, attention_page
from portal.downline.chart import bar_chart
from portal.downline.export import csv_chunks, csv_filename
from portal.downline.forms import (PAGE_SIZE, filter_args, parse_filters, parse_page_size,
                                   parse_tree_after)
from portal.downline.listing import SORT_LABELS, team_page, team_rows
from portal.downline.person import person_profiles, sponsor_of
from portal.downline.scope import person_in_downline, team_owner
from portal.downline.statuses import STATUS_LABELS, STATUSES
from portal.downline.totals import team_totals
from portal.downline.tree import direct_recruits_page
from portal.extensions import db
from portal.orders.pricing import shipping_rule
from portal.roles import role_required
from portal.templating import render
from portal.volume.qualification_notes import attention_notes
from portal.volume.rank_plans import plan_in_force
from portal.volume.team import ranks_of

bp = Blueprint("downline", __name__, url_prefix="/team")
team_required = role_required(Role.IBO, Role.ADMIN)


def team_scope() -> User | None:
    """The IBO whose downline is shown; None when an admin has not picked one yet."""
    if current_user.role == Role.IBO:
        return current_user
    number = (request.args.get("as") or "").strip()
    return team_owner(db.session, number) if number else None


def picked_scope() -> User:
    """The IBO whose downline is shown, for the pages that have no picker (a CSV, a branch,
    a person): a 404 while an admin has not picked one."""
    scope = team_scope()
    if scope is None:
        abort(404, "Pick an IBO first.")
    return scope


def _scope_args() -> dict[str, str]:
    if current_user.is_authenticated and current_user.role == Role.ADMIN and request.args.get("as"):
        return {"as": request.args["as"].strip()}
    return {}


@bp.context_processor
def team_helpers():
    def team_url(endpoint: str, **values) -> str:
        return url_for(endpoint, **_scope_args(), **values)
    return {"team_url": team_url, "status_labels": STATUS_LABELS}


def _ranks(person_ids: list[int]) -> dict[int, str]:
    """This period's paid-as rank names of the people a page lists (those who hold one)."""
    period = company_today().replace(day=1)
    return ranks_of(db.session, person_ids, period, plan_in_force(db.session, period)[1])


def _picker(title: str):
    return render("downline/pick.html", title=title, endpoint=request.endpoint,
                  view_args=request.view_args or {})


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
    size = parse_page_size(request.args)
    page = team_page(db.session, scope, filters, cursor=cursor, size=size)
    args = filter_args(filters) | ({"size": str(size)} if size != PAGE_SIZE else {})
    context = dict(scope=scope, page=page, filters=filters, notices=notices,
                   args=args, today=company_today(), sorts=SORT_LABELS, statuses=STATUSES,
                   ranks=_ranks([row.id for row in page.rows]))
    if request.htmx and cursor:
        return render("downline/_rows.html", **context)
    return render("downline/autoships.html", "downline/_results.html", **context)


@bp.get("/autoships.csv")
@login_required
@team_required
def autoships_csv():
    scope = picked_scope()
    filters, _ = parse_filters(request.args)
    today = company_today()
    rows = team_rows(db.session, scope, filters)  # runs when the response streams
    response = Response(stream_with_context(csv_chunks(rows, today)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{csv_filename(scope, today)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/totals")
@login_required
@team_required
def totals():
    scope = team_scope()
    if scope is None:
        return _picker("Team totals")
    summary = team_totals(db.session, scope, company_today())
    return render("downline/totals.html", scope=scope, totals=summary, chart=bar_chart(summary))


@bp.get("/attention")
@login_required
@team_required
def attention():
    scope = team_scope()
    if scope is None:
        return _picker("Needs attention")
    cursor = request.args.get("cursor") or None
    rules = AutoshipRules.from_config(current_app.config)
    page = attention_page(db.session, scope, today=company_today(), min_pv=rules.min_pv,
                          cursor=cursor, size=parse_page_size(request.args))
    context = dict(scope=scope, page=page, min_pv=rules.min_pv, recent_days=RECENT_DAYS,
                   volume_notes=attention_notes(db.session, [row.profile_id for row in page.rows],
                                                today=company_today()))
    if request.htmx and cursor:
        return render("downline/_attention_rows.html", **context)
    return render("downline/attention.html", **context)


def _recruits(scope: User, parent: User, *, root: bool, fragment: bool):
    """A page of ``parent``'s direct recruits (``root``: the top of the tree shown): the tree
    page, or (``fragment``) its nodes alone, which htmx appends under the branch it opened or
    after the nodes already shown."""
    nodes, after = direct_recruits_page(db.session, parent, after=parse_tree_after(request.args))
    context = dict(nodes=nodes, after=after, parent=parent, root=root,
                   ranks=_ranks([node.id for node in nodes]))
    if fragment:
        return render("downline/_tree_nodes.html", **context)
    return render("downline/tree.html", scope=scope, **context)


@bp.get("/tree")
@login_required
@team_required
def tree():
    scope = team_scope()
    if scope is None:
        return _picker("Team tree")
    return _recruits(scope, scope, root=True, fragment=bool(request.htmx and request.args.get("after")))


@bp.get("/tree/<member_number>")
@login_required
@team_required
def recruits(member_number: str):
    scope = picked_scope()
    return _recruits(scope, person_in_downline(db.session, scope, member_number), root=False,
                     fragment=bool(request.htmx))


@bp.get("/people/<member_number>")
@login_required
@team_required
def person(member_number: str):
    scope = picked_scope()
    person = person_in_downline(db.session, scope, member_number)
    today = company_today()
    views = person_profiles(db.session, person, today=today,
                            rules=AutoshipRules.from_config(current_app.config),
                            shipping=shipping_rule(current_app.config))
    return render("downline/person.html", scope=scope, person=person, views=views, today=today,
                  level=person.depth - scope.depth, sponsor=sponsor_of(db.session, person))
