from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, url_for
from htmx_flask import request

from portal.admin.forms import ProductForm, StockForm
from portal.admin.queries import operations_summary, orders_query, outbox_query
from portal.autoship.queries import holders_of
from portal.catalog import services as catalog
from portal.catalog.models import Product
from portal.confirmations import ask_first, confirmed
from portal.errors import NotFound
from portal.extensions import db
from portal.forms import form_messages
from portal.fulfilment.coordination import request_planning
from portal.fulfilment.queries import order_tracking
from portal.orders.models import Order
from portal.orders.refund_views import refund_panel
from portal.orders.states import STATUS_LABELS
from portal.pagination import page_number, paginate
from portal.queues import get_queue
from portal.roles import admin_required, staff_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("admin", __name__, url_prefix="/admin")


SUPPORT_MAY = {"admin.order"}  # what support reads here: the order a member page links to


@bp.before_request
def only_admins():
    if request.endpoint in SUPPORT_MAY:
        return staff_required(lambda: None)()
    return admin_required(lambda: None)()


def _page(query):
    return paginate(db.session, query, page_number(request.args.get("page")),
                    current_app.config["ADMIN_PAGE_SIZE"])


@bp.get("/")
def index():
    queues = {}
    try:
        for name in current_app.config["RQ_QUEUES"]:
            queue = get_queue(name)
            queues[name] = {"waiting": queue.count, "failed": queue.failed_job_registry.count}
    except Exception as error:  # the page still helps when Redis is down
        current_app.logger.warning("queue status unavailable: %s", error)
    return render("admin/index.html", summary=operations_summary(db.session), queues=queues,
                  status_labels=STATUS_LABELS)


@bp.get("/products")
def products():
    return _products_page(request.args.get("q", "")[:100])


def _products_page(text: str, message: str | None = None):
    page = _page(catalog.search_query(text, include_inactive=True))
    return render("admin/products.html", "admin/_products.html", page=page, q=text,
                  stock_form=StockForm(formdata=None), message=message,
                  holders=holders_of(db.session, [product.id for product in page.items]))


@bp.route("/products/new", methods=["GET", "POST"])
def new_product():
    form = ProductForm()
    if form.validate_on_submit():
        with refusal(form, field="sku"):
            product = catalog.create_product(db.session, **{
                name: getattr(form, name).data for name in (
                    "sku", "name", "description", "category", "each_price", "each_pv",
                    "each_bv", "case_size", "case_price", "lot_size", "lot_price", "on_hand")})
            flash(f"{product.sku} {product.name} added to the catalog.", "success")
            return redirect(url_for("admin.products"), 303)
    return render("admin/product_form.html", form=form,
                  status=422 if form.is_submitted() else 200)


@bp.post("/products/<int:product_id>/stock")
def set_stock(product_id: int):
    form = StockForm()
    if not form.validate_on_submit():
        return render("errors/error.html", "errors/_error.html", status=422,
                      title="Stock not changed",
                      message=form_messages(form))
    stock = catalog.adjust_stock(db.session, product_id, form.on_hand.data)
    request_planning(db.session, "stock adjusted")
    flash(f"Stock set to {stock.on_hand} eaches.", "success")
    return redirect(url_for("admin.products", page=request.args.get("page", 1)), 303)


@bp.post("/products/<int:product_id>/active")
def toggle_active(product_id: int):
    """Put on sale or withdraw: ``active`` "1" or "0" says which (the button's state when it
    was shown; none: the opposite of now). Withdrawing asks first, saying whom it reaches."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    wanted = {"1": True, "0": False}.get(request.form.get("active", ""), not product.active)
    back = url_for("admin.products", page=request.args.get("page", 1))
    if product.active and not wanted and not confirmed():
        held = holders_of(db.session, [product.id]).get(product.id)
        return ask_first(
            title=f"Withdraw {product.sku} {product.name}?",
            consequences=[
                "It leaves the shop: nobody can order it or add it to a cart or a standing order.",
                (f"{held.profiles} standing order{'' if held.profiles == 1 else 's'} of "
                 f"{held.people} {'person' if held.people == 1 else 'people'} hold it: their "
                 "shipments leave it out, and their PV drops, until it is back on sale or they "
                 "replace it.") if held else "No standing order holds it.",
                "You can put it back on sale at any time."],
            action=url_for("admin.toggle_active", product_id=product.id,
                           page=request.args.get("page", 1)),
            button=f"Yes, withdraw {product.sku}", back=back, back_label="No, keep it on sale",
            fields={"active": "0"})
    catalog.set_product_active(db.session, product_id, wanted)
    message = (f"{product.sku} is now {'on sale' if product.active else 'withdrawn'}. The team PV "
               "totals of the standing orders holding it are being updated.")
    if request.htmx:
        return _products_page(request.form.get("q", "")[:100], message)
    flash(message, "success")
    return redirect(back, 303)


@bp.get("/orders")
def orders():
    status = request.args.get("status", "")
    if status not in STATUS_LABELS:
        status = ""
    return render("admin/orders.html", "admin/_orders.html", page=_page(orders_query(status)),
                  selected_status=status, status_labels=STATUS_LABELS)


@bp.get("/orders/<int:order_id>")
def order(order_id: int):
    found = db.session.get(Order, order_id)
    if found is None:
        raise NotFound("No such order.")
    return render("orders/detail.html", order=found, confirmation=False, admin_view=True,
                  refund=refund_panel(found),
                  shipped=order_tracking(db.session, found.id, current_app.config["TRACKING_URLS"]))


@bp.get("/outbox")
def outbox():
    return render("admin/outbox.html", page=_page(outbox_query()))
