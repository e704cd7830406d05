"""Volume for admins (``/admin/volume``): the periods and their state, the rank plan's editor
and versions, recomputing a period (an RQ job whose progress the page follows), closing a
period (after a confirmation) and a period's rank advancement report."""

from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user
from htmx_flask import request
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select

from portal.clock import company_today
from portal.confirmations import ask_first, confirmed
from portal.extensions import db
from portal.pagination import page_number
from portal.queues import enqueue_after_commit, get_redis
from portal.roles import admin_required
from portal.templating import render
from portal.volume.advancement import KINDS, advancement_page
from portal.volume.computation import close_period
from portal.volume.models import VolumePeriod
from portal.volume.periods import BadPeriod, parse_period, period_name, period_text
from portal.volume.plan import PlanInvalid, parse_plan
from portal.volume.rank_plans import latest_plan, plan_in_force, plan_versions, save_plan

bp = Blueprint("volume_admin", __name__, url_prefix="/admin/volume")
MAX_DOCUMENT = 100_000  # characters of a plan document: far above any plan


@bp.before_request
@admin_required
def only_admins():
    return None


def _period(text: str) -> date:
    try:
        return parse_period(text[:40], today=company_today())
    except BadPeriod as error:
        abort(400, str(error))


def recompute_job_id(period: date) -> str:
    return f"volume-recompute-{period_text(period)}"


def recompute_status(period: date) -> dict | None:
    """The recompute job of ``period`` as the page shows it, or None when there is none."""
    try:
        job = Job.fetch(recompute_job_id(period), connection=get_redis())
    except NoSuchJobError:
        return None
    except Exception:  # Redis down: the page still shows the periods
        return None
    meta = job.get_meta(refresh=True) if hasattr(job, "get_meta") else job.meta
    return {"status": job.get_status(refresh=False), "done": meta.get("done", 0),
            "total": meta.get("total", 0), "period": period}


@bp.get("/")
def index():
    periods = list(db.session.scalars(select(VolumePeriod).order_by(VolumePeriod.period.desc()).limit(24)))
    current = company_today().replace(day=1)
    version, _plan = plan_in_force(db.session, current)
    watching = None
    if request.args.get("watch"):
        watching = recompute_status(_period(request.args["watch"]))
    return render("volume/admin/index.html", periods=periods, current=current, version=version,
                  watching=watching, kinds=KINDS)


@bp.get("/plan")
def plan():
    version, _plan = latest_plan(db.session)
    return _plan_page(json.dumps(version.document, indent=2), period_text(company_today().replace(day=1)), "")


def _plan_page(document: str, effective_from: str, note: str, reasons: list[str] | None = None,
               status: int = 200):
    return render("volume/admin/plan.html", status=status, document=document,
                  effective_from=effective_from, note=note, reasons=reasons or [],
                  versions=plan_versions(db.session))


@bp.post("/plan")
def save():
    raw = request.form.get("document", "")
    effective = request.form.get("effective_from", "").strip()
    note = request.form.get("note", "")[:500]
    reasons: list[str] = []
    document = None
    if len(raw) > MAX_DOCUMENT:
        reasons.append(f"The plan is longer than {MAX_DOCUMENT:,} characters.")
    else:
        try:
            document = json.loads(raw)
        except ValueError as error:
            reasons.append(f"The plan is not valid JSON: {error}.")
    try:  # a plan may start in a period that has not begun yet: it is checked as a month only
        effective_from = parse_period(effective[:40], today=date(9999, 12, 31))
    except BadPeriod as error:
        reasons.append(f"Effective from: {error}")
        effective_from = None
    if document is not None and effective_from is not None:
        try:
            version = save_plan(db.session, document, effective_from=effective_from,
                                actor=current_user, note=note)
        except PlanInvalid as error:
            reasons.extend(error.reasons)
        else:
            flash(f"Version {version.version} of the rank plan saved, in force from "
                  f"{period_name(effective_from)}.", "success")
            return redirect(url_for("volume_admin.plan"), 303)
    elif document is not None:
        try:  # say everything wrong with the plan too, not only the period
            parse_plan(document)
        except PlanInvalid as error:
            reasons.extend(error.reasons)
    return _plan_page(raw, effective, note, reasons, 422)


@bp.post("/recompute")
def recompute_chosen():
    return recompute(request.form.get("period", ""))


@bp.post("/periods/<period>/recompute")
def recompute(period: str):
    chosen = _period(period)
    closed = db.session.get(VolumePeriod, chosen)
    if closed is not None and closed.status == "closed":
        flash(f"{period_name(chosen)} is closed: its volume never changes again.", "error")
        return redirect(url_for("volume_admin.index"), 303)
    enqueue_after_commit(db.session, "jobs.volume_recompute.recompute", period_text(chosen),
                         job_id=recompute_job_id(chosen), job_timeout=3600)
    flash(f"Recomputing {period_name(chosen)}: follow it below.", "success")
    return redirect(url_for("volume_admin.index", watch=period_text(chosen)), 303)


@bp.get("/periods/<period>/progress")
def progress(period: str):
    chosen = _period(period)
    return render("volume/admin/_progress.html", watching=recompute_status(chosen)
                  or {"status": "none", "done": 0, "total": 0, "period": chosen})


@bp.post("/periods/<period>/close")
def close(period: str):
    chosen = _period(period)
    if not confirmed():
        return ask_first(title=f"Close {period_name(chosen)}?",
                         consequences=[f"The volume and ranks of {period_name(chosen)} become final: "
                                       "nothing recomputes them again.",
                                       "A refund of one of its orders later lands in the open period "
                                       "as an adjustment.",
                                       "This cannot be undone."],
                         action=url_for("volume_admin.close", period=period_text(chosen)),
                         button=f"Yes, close {period_name(chosen)}",
                         back=url_for("volume_admin.index"), back_label="No, keep it open")
    close_period(db.session, chosen, actor=current_user)
    flash(f"{period_name(chosen)} is closed.", "success")
    return redirect(url_for("volume_admin.index"), 303)


@bp.get("/periods/<period>/advancement")
def advancement(period: str):
    chosen = _period(period)
    kind = request.args.get("show", "new")
    if kind not in KINDS:
        abort(400, "Show one of: " + ", ".join(KINDS) + ".")
    _version, plan_then = plan_in_force(db.session, chosen)
    page = advancement_page(db.session, chosen, plan_then, kind,
                            number=page_number(request.args.get("page")))
    return render("volume/admin/advancement.html", "volume/admin/_advancement.html", period=chosen,
                  kind=kind, kinds=KINDS, page=page)
