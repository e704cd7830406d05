"""Admins: reasons and saves per month (table and chart), and replacing a product in every
standing order that holds it (counted and confirmed first, then a job with live progress)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.accounts.models import User
from portal.autoship.models import AutoshipProfile
from portal.catalog.models import Product
from portal.clock import company_today
from portal.confirmations import ask_first, confirmed
from portal.extensions import db
from portal.formatting import counted
from portal.forms import form_messages
from portal.pagination import page_number, paginate
from portal.retention import replacements
from portal.retention.cancellation import OFFER_LABELS, REASON_LABELS
from portal.retention.chart import saves_chart
from portal.retention.forms import ReplacementForm, new_key
from portal.retention.models import Replacement, ReplacementSetAside
from portal.retention.report import monthly_answers, reasons_shown
from portal.roles import admin_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("retention_admin", __name__, url_prefix="/admin/retention")
REPORT_MONTHS = 12


@bp.before_request
@admin_required
def only_admins():
    return None


@bp.get("/")
def report():
    rows = monthly_answers(db.session, today=company_today(), months=REPORT_MONTHS,
                           timezone=current_app.config["COMPANY_TIMEZONE"])
    return render("retention/admin/report.html", rows=rows, reasons=reasons_shown(rows),
                  offers=OFFER_LABELS, chart=saves_chart(rows), reason_labels=REASON_LABELS)


def _choices(form: ReplacementForm) -> None:
    products = db.session.scalars(select(Product).order_by(Product.name)).all()
    form.product_id.choices = [SelectChoice(p.id, f"{p.name} ({p.sku})" + ("" if p.active else " · withdrawn"))
                               for p in products]
    form.replacement_id.choices = [SelectChoice(p.id, f"{p.name} ({p.sku})") for p in products if p.active]


def _replacements_page(form: ReplacementForm, status: int = 200, error: str | None = None):
    _choices(form)
    page = paginate(db.session, select(Replacement).order_by(Replacement.id.desc()),
                    page_number(request.args.get("page")), current_app.config["ADMIN_PAGE_SIZE"])
    names = dict(db.session.execute(select(Product.id, Product.name)).all())
    return render("retention/admin/replacements.html", form=form, page=page, names=names,
                  status=status, error=error)


@bp.get("/replacements")
def replacements_page():
    return _replacements_page(ReplacementForm(formdata=None, key=new_key()))


@bp.post("/replacements")
def start():
    """Without ``confirm``: how many standing orders and members it changes, asked first; with
    it, the replacement is recorded and its job enqueued (once per form: its key)."""
    form = ReplacementForm()
    _choices(form)
    if not form.validate_on_submit():
        return _replacements_page(form, 422, form_messages(form))
    with refusal(form) as refused:
        choice = replacements.check_choice(db.session, form.product_id.data, form.replacement_id.data,
                                           form.unit_code.data)
        if confirmed():
            started = replacements.start_replacement(db.session, admin=current_user, choice=choice,
                                                     key=form.key_or_new())
    if refused:
        return _replacements_page(form, refused.status)
    if not confirmed():
        affected = replacements.count_affected(db.session, choice.product.id)
        unit = choice.replacement.unit(choice.unit_code)
        return ask_first(
            title=f"Replace {choice.product.name} by {choice.replacement.name}?",
            consequences=[
                f"{counted(affected.profiles, 'standing order', 'standing orders')} of "
                f"{counted(affected.members, 'member', 'members')} hold {choice.product.name} "
                "(cancelled ones are left alone).",
                f"Each of their items of it becomes {choice.replacement.name} by the "
                f"{unit.label.lower()}, in the same quantity; the history says so and each member "
                "gets a notice by mail.",
                "A standing order whose next shipment is already being prepared, or that would hold "
                "more than a line may, is left as it is and listed with the reason."],
            action=url_for("retention_admin.start"), button="Yes, replace it in every standing order",
            back=url_for("retention_admin.replacements_page"), back_label="No, go back",
            fields={"product_id": str(choice.product.id), "replacement_id": str(choice.replacement.id),
                    "unit_code": choice.unit_code, "key": form.key_or_new()})
    flash(f"Replacement started: {counted(started.profiles_total, 'standing order', 'standing orders')} "
          f"of {counted(started.members_total, 'member', 'members')}.", "success")
    return redirect(url_for("retention_admin.replacement", replacement_id=started.id), 303)


@bp.get("/replacements/<int:replacement_id>")
def replacement(replacement_id: int):
    found = replacements.replacement_of(db.session, replacement_id)
    names = dict(db.session.execute(select(Product.id, Product.name).where(
        Product.id.in_([found.product_id, found.replacement_product_id]))).all())
    set_asides = db.session.execute(
        select(ReplacementSetAside, AutoshipProfile.name, User.member_number)
        .join(AutoshipProfile, AutoshipProfile.id == ReplacementSetAside.profile_id)
        .join(User, User.id == AutoshipProfile.user_id)
        .where(ReplacementSetAside.replacement_id == found.id)
        .order_by(ReplacementSetAside.profile_id).limit(500)).all()
    fragment = "retention/admin/_progress.html" if request.args.get("panel") == "progress" \
        else "retention/admin/_replacement.html"
    response = render("retention/admin/replacement.html", fragment, replacement=found, names=names,
                      set_asides=set_asides)
    if request.args.get("panel") == "progress" and found.status not in ("queued", "running"):
        response.headers["HX-Refresh"] = "true"  # the polling ends: the whole page, with every set-aside
    return response
