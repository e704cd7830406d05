"""The autoship job dashboard for admins: runs with live progress, chunks, the forecast and
failed payments, each failure with a retry."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, current_app, flash, redirect, request, url_for
from sqlalchemy import select

from portal.accounts.models import User
from portal.autoship import queries
from portal.autoship.engine import EngineRules
from portal.autoship.forecast import ForecastRefused, forecast
from portal.autoship.models import AutoshipProfile, AutoshipRun
from portal.autoship.profiles import AutoshipRules, describe_rule, last_ordered_dates
from portal.autoship.runs import attempt_summaries, retry_failed_chunks, start_and_enqueue
from portal.clock import company_today
from portal.errors import NotFound
from portal.extensions import db
from portal.formatting import day
from portal.forms import parse_date
from portal.orders.billing import CHARGEABLE, failed_payments
from portal.orders.charging import NothingToCharge, retry_charge
from portal.orders.pricing import shipping_rule
from portal.pagination import page_number, paginate
from portal.roles import admin_required
from portal.templating import render

bp = Blueprint("autoship_admin", __name__, url_prefix="/admin/autoship")


@bp.before_request
@admin_required
def only_admins():
    return None


def _today() -> date:
    return company_today()


def _run(run_id: int) -> AutoshipRun:
    run = db.session.get(AutoshipRun, run_id)
    if run is None:
        raise NotFound("No such run.")
    return run


@bp.get("/")
def runs():
    return _runs_page()


def _runs_page(status: int = 200, as_of_error: str = "", as_of: str = ""):
    page = paginate(db.session, select(AutoshipRun).order_by(AutoshipRun.as_of.desc()),
                    page_number(request.args.get("page")), current_app.config["ADMIN_PAGE_SIZE"])
    current = db.session.scalar(select(AutoshipRun).where(AutoshipRun.status == "running")
                                .order_by(AutoshipRun.started_at.desc()).limit(1))
    return render("autoship/admin/runs.html", status=status, page=page, current=current,
                  today=_today(), as_of_error=as_of_error, as_of=as_of)


@bp.post("/")
def start():
    raw = request.form.get("as_of", "")[:40]
    try:
        as_of = parse_date(raw)
    except ValueError as error:
        return _runs_page(422, f"No run started: {error}", raw)
    if as_of > _today() + timedelta(days=1):
        return _runs_page(422, "No run started: a run materialises what is due; it cannot run "
                               "for a future date.", raw)
    run = start_and_enqueue(db.session, as_of=as_of, trigger="admin", config=current_app.config)
    attempt = attempt_summaries(run)[-1]
    flash(f"Run for {day(as_of, 'full')} started (attempt {attempt.number}): {attempt.due} due "
          f"profiles in {attempt.chunks_total} chunks.", "success")
    return redirect(url_for("autoship_admin.run", run_id=run.id), 303)


@bp.get("/runs/<int:run_id>")
def run(run_id: int):
    fragment = "autoship/admin/_progress.html" if request.args.get("panel") == "progress" \
        else "autoship/admin/_run.html"
    found = _run(run_id)
    return render("autoship/admin/run.html", fragment, run=found,
                  attempts=attempt_summaries(found))


@bp.post("/runs/<int:run_id>/retry")
def retry(run_id: int):
    count = retry_failed_chunks(db.session, _run(run_id).id)
    flash(f"{count} chunk(s) enqueued again." if count else "Every chunk of this run is done.", "success")
    return redirect(url_for("autoship_admin.run", run_id=run_id), 303)


@bp.get("/forecast")
def forecast_page():
    """What each day's run will create; a bad date falls back to the default period, beside
    its field; a period the forecast cannot cover is refused beside its end, with the limit."""
    errors: dict[str, str] = {}
    start = _date_arg("from", _today(), errors)
    end = _date_arg("to", start + timedelta(days=13), errors)
    days = None
    try:
        days = forecast(db.session, start, end, today=_today(),
                        min_pv=EngineRules.from_config(current_app.config).min_pv)
    except ForecastRefused as refused:
        errors[refused.field] = refused.message
    return render("autoship/admin/forecast.html", status=422 if errors else 200, days=days,
                  start=start, end=end, errors=errors,
                  peak=max((d.orders for d in days or ()), default=0))


def _date_arg(name: str, default: date, errors: dict[str, str]) -> date:
    """The date parameter ``name``, or ``default`` when it is absent or empty; a bad one is
    put in ``errors`` (shown beside its field) and ``default`` is used."""
    raw = request.args.get(name, "")
    if not raw.strip():
        return default
    try:
        return parse_date(raw)
    except ValueError as error:
        errors[name] = str(error)
        return default


@bp.get("/payments")
def payments():
    page = paginate(db.session, failed_payments(), page_number(request.args.get("page")),
                    current_app.config["ADMIN_PAGE_SIZE"])
    return render("autoship/admin/payments.html", page=page, chargeable=CHARGEABLE)


@bp.post("/payments/<int:order_id>/retry")
def retry_payment(order_id: int):
    try:
        order, result = retry_charge(current_app._get_current_object(), db.session, order_id, _today())
    except NothingToCharge as refused:
        return render("errors/error.html", status=refused.status, title="Not retried",
                      message=refused.message)
    flash(f"Order {order.number}: " + ("paid." if result.paid else "declined again."), "success")
    return redirect(url_for("autoship_admin.payments"), 303)


@bp.get("/profiles")
def profiles():
    """Every standing order, newest first, optionally of one member (by member number)."""
    number = request.args.get("member", "").strip()[:12]
    page = paginate(db.session, queries.every_profile(member_number=number),
                    page_number(request.args.get("page")),
                    current_app.config["ADMIN_PAGE_SIZE"], scalars=False)
    return render("autoship/admin/profiles.html", page=page, member=number, describe_rule=describe_rule)


@bp.get("/profiles/<int:profile_id>")
def profile(profile_id: int):
    """A profile as the member sees it, with its whole history, read-only."""
    found = db.session.get(AutoshipProfile, profile_id)
    if found is None:
        raise NotFound("No such standing order.")
    rules = AutoshipRules.from_config(current_app.config)
    return render("autoship/admin/profile.html", owner=db.session.get(User, found.user_id),
                  summary=queries.summarize(found, _today(), rules, shipping_rule(current_app.config),
                                            last_ordered=last_ordered_dates(db.session, [found.id]).get(found.id)),
                  history=queries.history(db.session, found, limit=500),
                  orders=queries.recent_orders(db.session, found, limit=50))
