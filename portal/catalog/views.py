from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from wtforms.fields.choices import SelectChoice

from flask_login import current_user

from portal.acting import shopper

from portal.autoship.forms import SubscribeForm
from portal.autoship.models import ProfileStatus
from portal.autoship.queries import profiles_of
from portal.catalog.forms import AddToCartForm
from portal.catalog.models import UNIT_LABELS, Product, UnitCode, unit_count
from portal.catalog.services import search_query
from portal.extensions import db
from portal.formatting import day, money
from portal.autoship.one_time_views import panel_here as next_shipment_here
from portal.oneclick.views import panel_here
from portal.pagination import page_number, paginate
from portal.templating import render

bp = Blueprint("catalog", __name__, url_prefix="/shop")


@bp.app_template_filter("unit_label")
def unit_name(code: str) -> str:
    """A unit's name ("Each", "Case", "Lot") for any page; a code we do not know, as it is."""
    try:
        return UNIT_LABELS[UnitCode(code)]
    except ValueError:
        return code


@bp.app_template_filter("unit_count")
def unit_count_filter(quantity: int, code: str = UnitCode.EACH) -> str:
    """A quantity in words for any page: ``{{ 3|unit_count('case') }}`` is "3 cases"."""
    return unit_count(quantity, code)


@bp.get("/")
def index():
    text = request.args.get("q", "")[:100]
    page = paginate(db.session, search_query(text), page_number(request.args.get("page")),
                    current_app.config["CATALOG_PAGE_SIZE"])
    return render("catalog/index.html", "catalog/_results.html", page=page, q=text,
                  oneclick_panel=panel_here() if page.items else None,
                  next_shipment_panel=next_shipment_here() if page.items else None)


@bp.get("/products/<int:product_id>")
def product(product_id: int):
    item = db.session.get(Product, product_id)
    if item is None or not item.active:
        abort(404, "We do not sell that product (any more).")
    form = AddToCartForm(product_id=item.id)
    form.unit.choices = [SelectChoice(u.code, f"{u.label} — {money(u.price)}")
                         for u in item.sellable_units]
    return render("catalog/product.html", product=item, form=form,
                  subscribe=_subscribe_form(item), oneclick_panel=panel_here(),
                  next_shipment_panel=next_shipment_here())


def _subscribe_form(item: Product) -> SubscribeForm | None:
    """"Subscribe": start a standing order for this product, or add it to one of mine."""
    if not current_user.is_authenticated or not shopper.is_shopper:
        return None
    form = SubscribeForm(formdata=None, product_id=item.id)
    form.unit.choices = [SelectChoice(u.code, u.label) for u in item.sellable_units]
    form.profile.choices = [SelectChoice("new", "A new standing order (monthly)")] + [
        SelectChoice(str(p.id), f"{p.name} (next {day(p.next_run_date, 'short')})" if p.next_run_date else p.name)
        for p in profiles_of(db.session, shopper) if p.status != ProfileStatus.CANCELLED]
    return form
