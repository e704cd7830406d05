from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_login import current_user, login_required

from portal.acting import shopper
from htmx_flask import make_response, request

from portal.autoship.profiles import AutoshipRules
from portal.autoship.queries import open_for_changes
from portal.cart import services
from portal.cart.forms import CartLineForm
from portal.catalog.forms import AddToCartForm
from portal.clock import company_today
from portal.extensions import db
from portal.forms import form_messages
from portal.ids import parse_id
from portal.orders.pricing import shipping_rule, totals
from portal.roles import shopper_required
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("cart", __name__, url_prefix="/cart")


@bp.app_context_processor
def cart_count() -> dict[str, int]:
    """The number of items in the shopper's cart, for the cart link in every page's header."""
    if not current_user.is_authenticated or not shopper.is_shopper:
        return {"cart_count": 0}
    return {"cart_count": services.items_in_cart(db.session, shopper)}


def render_cart(status: int = 200, error: str | None = None):
    lines = services.cart_lines(db.session, shopper)
    priced, problems = services.priced_cart(db.session, shopper)
    # "Make this my autoship" offers to add the cart to these, or to start a new one
    targets = open_for_changes(db.session, shopper, company_today(),
                               AutoshipRules.from_config(current_app.config)) if lines else []
    return render("cart/cart.html", "cart/_cart.html", status=status, lines=lines,
                  summary=totals(priced, shipping_rule(current_app.config)), problems=problems,
                  error=error, autoship_targets=targets)


def _changed(refused, done: str):
    """The answer to a change of a cart line: the cart with the refusal, or the changed cart
    (htmx, telling the cart link to refresh) or a redirect to it with ``done``."""
    if refused:
        return render_cart(refused.status, refused.message)
    if request.htmx:
        return make_response(render_cart(), trigger="cart-changed")
    flash(done, "success")
    return redirect(url_for("cart.view"), 303)


@bp.get("/")
@login_required
@shopper_required
def view():
    return render_cart()


@bp.get("/badge")
@login_required
@shopper_required
def badge():
    """The cart link's text, refreshed by htmx whenever the cart changes."""
    return render("cart/_badge.html")


@bp.post("/add")
@login_required
@shopper_required
def add():
    form = AddToCartForm()
    product_id = parse_id(request.form.get("product_id"))
    if not form.validate_on_submit() or product_id is None:
        message = form_messages(form) or "Choose a product to add."
        return render("errors/error.html", "errors/_error.html", status=422, title="Not added",
                      message=message)
    with refusal() as refused:
        line = services.add_to_cart(db.session, user=shopper, actor=current_user, product_id=product_id,
                                    unit_code=form.unit.data, quantity=form.quantity.data,
                                    max_quantity=current_app.config["MAX_LINE_QUANTITY"])
    if refused:
        return render("errors/error.html", "errors/_error.html", status=refused.status,
                      title="Not added", message=refused.message)
    message = f"Added {form.quantity.data} × {line.product.name} ({form.unit.data}) to your cart."
    if request.htmx:
        return make_response(render("cart/_added.html", message=message, line=line),
                             trigger="cart-changed")
    flash(message, "success")
    return redirect(url_for("cart.view"), 303)


@bp.post("/lines/<int:line_id>")
@login_required
@shopper_required
def change(line_id: int):
    form = CartLineForm()
    if not form.validate_on_submit():
        return render_cart(422, form_messages(form))
    with refusal() as refused:
        services.change_line(db.session, user=shopper, actor=current_user, line_id=line_id,
                             unit_code=form.unit.data, quantity=form.quantity.data,
                             max_quantity=current_app.config["MAX_LINE_QUANTITY"])
    return _changed(refused, "Your cart is updated.")


@bp.post("/lines/<int:line_id>/remove")
@login_required
@shopper_required
def remove(line_id: int):
    with refusal() as refused:
        services.remove_line(db.session, user=shopper, actor=current_user, line_id=line_id)
    return _changed(refused, "Removed from your cart.")
