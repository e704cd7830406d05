"""Fulfilment for admins: the latest plan, what waits, planning runs, stock, receipts and
expected arrivals, shipping with tracking numbers (one at a time or from a CSV file)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.catalog.models import MAX_ON_HAND, unit_count
from portal.clock import company_today
from portal.extensions import db
from portal.formatting import day
from portal.forms import form_messages, show_beside_field
from portal.fulfilment import queries
from portal.fulfilment.coordination import request_planning
from portal.fulfilment.csv_imports import import_arrivals, import_receipts
from portal.fulfilment.forms import ArrivalForm, CsvUploadForm, ReceiptForm, ReceiveLineForm, ShipForm
from portal.fulfilment.inventory_csv import MAX_EACHES, CsvRejected
from portal.fulfilment.models import SHIPMENT_STATUS_LABELS, ShipmentStatus
from portal.fulfilment.receiving import add_expected_arrival, receive_purchase_order_line, record_receipt
from portal.fulfilment.shipments import release_shipment, ship_shipment, shipment_by_id
from portal.fulfilment.tracking import parcels, read_dispatch
from portal.fulfilment.tracking_csv import import_tracking
from portal.links import site_url
from portal.pagination import page_number, paginate
from portal.roles import admin_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("fulfilment", __name__, url_prefix="/admin/fulfilment")

RECENT_RECEIPTS = 20


@bp.before_request
@admin_required
def only_admins():
    return None


def _page(query, scalars: bool = True):
    return paginate(db.session, query, page_number(request.args.get("page")),
                    current_app.config["ADMIN_PAGE_SIZE"], scalars=scalars)


def _actor():
    return current_user._get_current_object()


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------

@bp.get("/")
def plan():
    status = request.args.get("status", ShipmentStatus.PLANNED)
    if status not in SHIPMENT_STATUS_LABELS:
        status = ShipmentStatus.PLANNED
    kind = request.args.get("kind", "")
    kind = kind if kind in ("complete", "partial") else ""
    page = _page(queries.shipments_query(status, kind))
    return render("fulfilment/plan.html", "fulfilment/_shipments.html",
                  run=queries.latest_run(db.session), counts=queries.shipment_counts(db.session),
                  waiting=queries.waiting_totals(db.session), page=page,
                  summaries=queries.shipment_summaries(db.session, [s.id for s in page.items]),
                  shown=status, kind=kind, status_labels=SHIPMENT_STATUS_LABELS)


@bp.post("/plan-now")
def plan_now():
    request_planning(db.session, "admin")
    flash("Planning requested. The plan is replaced in a few seconds; reload to see it.", "success")
    return redirect(url_for("fulfilment.plan"), 303)


def _shipment_page(shipment_id: int, status: int = 200, form: ShipForm | None = None):
    found = shipment_by_id(db.session, shipment_id)
    form = form or ShipForm(formdata=None, shipped_on=company_today())
    urls = current_app.config["TRACKING_URLS"]
    return render("fulfilment/shipment.html", status=status, shipment=found, ship_form=form,
                  summary=queries.shipment_summaries(db.session, [found.id])[found.id],
                  picks=queries.shipment_picks(db.session, found.id), carriers=sorted(urls),
                  parcels=parcels(found.carrier, [t.number for t in found.tracking_numbers], urls))


@bp.get("/shipments/<int:shipment_id>")
def shipment(shipment_id: int):
    return _shipment_page(shipment_id)


def _back_to_plan(status: str):
    return redirect(url_for("fulfilment.plan", status=status, page=request.args.get("page", 1)), 303)


@bp.post("/shipments/<int:shipment_id>/release")
def release(shipment_id: int):
    shipment = release_shipment(db.session, actor=_actor(), shipment_id=shipment_id)
    number = shipment.number
    flash(f"Shipment {number} released to the warehouse.", "success")
    return _back_to_plan(ShipmentStatus.PLANNED)


@bp.post("/shipments/<int:shipment_id>/ship")
def ship(shipment_id: int):
    """Mark a released shipment shipped with its carrier, tracking numbers and ship date."""
    form = ShipForm()
    if not form.validate_on_submit():
        return _shipment_page(shipment_id, 422, form)
    urls = current_app.config["TRACKING_URLS"]
    with refusal(form) as refused:
        dispatch = read_dispatch(carrier=form.carrier.data, numbers=form.numbers.data,
                                 shipped_on=form.shipped_on.data, today=company_today(), urls=urls)
        shipment = ship_shipment(db.session, actor=_actor(), shipment_id=shipment_id,
                                 dispatch=dispatch, urls=urls, base_url=site_url())
        number = shipment.number
    if refused:
        for problem in getattr(refused.error, "problems", [])[1:]:  # the first is shown already
            show_beside_field(form, problem)
        return _shipment_page(shipment_id, refused.status, form)
    flash(f"Shipment {number} marked as shipped with {dispatch.carrier}; the members are told "
          "by mail.", "success")
    return _back_to_plan(ShipmentStatus.RELEASED)


@bp.get("/tracking")
def tracking():
    return render("fulfilment/tracking.html", form=CsvUploadForm(formdata=None, prefix="tracking"),
                  report=None, carriers=sorted(current_app.config["TRACKING_URLS"]))


@bp.post("/tracking")
def upload_tracking():
    """Tracking numbers for many shipments: the good shipments are marked shipped (and stay so),
    the problems are listed by line. Nothing applied is a 422; something applied is committed
    and shown with what was left out."""
    form = CsvUploadForm(prefix="tracking")
    carriers = sorted(current_app.config["TRACKING_URLS"])
    if not form.validate_on_submit():
        return render("fulfilment/tracking.html", status=422, form=form, report=None, carriers=carriers)
    config = current_app.config
    with refusal() as refused:
        report = import_tracking(db.session, actor=_actor(),
                                 data=form.file.data.read(config["TRACKING_CSV_MAX_BYTES"] + 1),
                                 today=company_today(), max_bytes=config["TRACKING_CSV_MAX_BYTES"],
                                 max_rows=config["TRACKING_CSV_MAX_ROWS"],
                                 urls=config["TRACKING_URLS"], base_url=site_url())
    if refused:
        problems = refused.error.problems if isinstance(refused.error, CsvRejected) else []
        return render("fulfilment/tracking.html", status=refused.status, form=form, carriers=carriers,
                      report=None, refusal=refused.message, problems=problems)
    if not report.problems:
        flash(f"{counted_shipments(len(report.shipped))} marked as shipped; the members are told "
              "by mail.", "success")
        return redirect(url_for("fulfilment.tracking"), 303)
    return render("fulfilment/tracking.html", status=200 if report.shipped else 422, form=form,
                  carriers=carriers, report=report)


def counted_shipments(count: int) -> str:
    return f"{count:,} shipment{'' if count == 1 else 's'}"


@bp.get("/waiting")
def waiting():
    run = queries.latest_run(db.session)
    page = _page(queries.waiting_query(run.started_at if run else None), scalars=False)
    return render("fulfilment/waiting.html", "fulfilment/_waiting.html", page=page, run=run,
                  totals=queries.waiting_totals(db.session))


@bp.get("/runs")
def runs():
    return render("fulfilment/runs.html", "fulfilment/_runs.html", page=_page(queries.runs_query()))


@bp.get("/stock")
def stock():
    return render("fulfilment/stock.html", "fulfilment/_stock.html",
                  page=_page(queries.stock_query(), scalars=False))


# --------------------------------------------------------------------------------------------
# Receipts and expected arrivals
# --------------------------------------------------------------------------------------------

def _inventory_page(status: int = 200, csv_problems: list[str] | None = None,
                    csv_upload: str | None = None, **bound):
    forms = {"receipt_form": ReceiptForm(formdata=None, prefix="receipt"),
             "arrival_form": ArrivalForm(formdata=None, prefix="arrival"),
             "receipts_csv_form": CsvUploadForm(formdata=None, prefix="receipts_csv"),
             "arrivals_csv_form": CsvUploadForm(formdata=None, prefix="arrivals_csv")}
    forms.update(bound)
    recent = db.session.scalars(queries.receipts_query().limit(RECENT_RECEIPTS)).all()
    return render("fulfilment/inventory.html", "fulfilment/_arrivals.html", status=status,
                  page=_page(queries.open_arrivals_query(), scalars=False), receipts=recent,
                  skus=queries.product_skus(db.session), today=company_today(),
                  csv_problems=csv_problems, csv_upload=csv_upload, max_eaches=MAX_EACHES,
                  max_on_hand=MAX_ON_HAND, **forms)


@bp.get("/inventory")
def inventory():
    return _inventory_page()


@bp.post("/inventory/receipts")
def add_receipt():
    form = ReceiptForm(prefix="receipt")
    if not form.validate_on_submit():
        return _inventory_page(422, receipt_form=form)
    with refusal(form) as refused:
        receipt = record_receipt(db.session, actor=_actor(), sku=form.sku.data,
                                 eaches=form.eaches.data, note=form.note.data or "")
        sku = receipt.product.sku
    if refused:
        return _inventory_page(refused.status, receipt_form=form)
    flash(f"Received {unit_count(form.eaches.data)} of {sku}. The plan is being updated.", "success")
    return redirect(url_for("fulfilment.inventory"), 303)


@bp.post("/inventory/arrivals")
def add_arrival():
    form = ArrivalForm(prefix="arrival")
    if not form.validate_on_submit():
        return _inventory_page(422, arrival_form=form)
    with refusal(form) as refused:
        purchase_order = add_expected_arrival(
            db.session, actor=_actor(), reference=form.reference.data, supplier=form.supplier.data or "",
            expected_on=form.expected_on.data, sku=form.sku.data, eaches=form.eaches.data,
            today=company_today())
        reference = purchase_order.reference
    if refused:
        return _inventory_page(refused.status, arrival_form=form)
    flash(f"{unit_count(form.eaches.data)} of {form.sku.data.strip().upper()} expected on "
          f"{day(form.expected_on.data)} ({reference}).", "success")
    return redirect(url_for("fulfilment.inventory"), 303)


@bp.post("/inventory/arrivals/lines/<int:line_id>/receive")
def receive_line(line_id: int):
    form = ReceiveLineForm()
    if not form.validate_on_submit():
        return render("errors/error.html", "errors/_error.html", status=422,
                      title="Nothing received",
                      message=form_messages(form))
    receipt = receive_purchase_order_line(db.session, actor=_actor(), line_id=line_id,
                                          eaches=form.eaches.data)
    sku = receipt.product.sku
    flash(f"Received {unit_count(form.eaches.data)} of {sku}. The plan is being updated.", "success")
    return redirect(url_for("fulfilment.inventory", page=request.args.get("page", 1)), 303)


def _upload(prefix: str, importer, noun: str):
    form = CsvUploadForm(prefix=prefix)
    if not form.validate_on_submit():
        return _inventory_page(422, **{f"{prefix}_form": form})
    config = current_app.config
    with refusal() as refused:
        count = importer(db.session, actor=_actor(), data=form.file.data.read(config["INVENTORY_CSV_MAX_BYTES"] + 1),
                         today=company_today(), max_bytes=config["INVENTORY_CSV_MAX_BYTES"],
                         max_rows=config["INVENTORY_CSV_MAX_ROWS"])
    if isinstance(refused.error, CsvRejected):
        return _inventory_page(422, csv_problems=[refused.message, *refused.error.problems],
                               csv_upload=prefix)
    if refused:
        return _inventory_page(refused.status, csv_problems=[refused.message], csv_upload=prefix)
    flash(f"Imported {count:,} {noun}{'' if count == 1 else 's'}.", "success")
    return redirect(url_for("fulfilment.inventory"), 303)


@bp.post("/inventory/receipts.csv")
def upload_receipts():
    return _upload("receipts_csv", import_receipts, "receipt")


@bp.post("/inventory/arrivals.csv")
def upload_arrivals():
    return _upload("arrivals_csv", import_arrivals, "expected arrival")
