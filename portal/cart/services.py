"""The cart: lines of a product in a unit, priced from the catalog at every look."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.accounts.audit import acts_for_another, record_for_member
from portal.accounts.models import User
from portal.cart.models import CartLine
from portal.catalog.services import OrderingError, active_product, sellable_unit
from portal.errors import NotFound
from portal.orders.pricing import PricedLine


def cart_lines(session: Session, user: User) -> list[CartLine]:
    return list(session.scalars(select(CartLine).where(CartLine.user_id == user.id)
                                .order_by(CartLine.added_at, CartLine.id)))


def items_in_cart(session: Session, user: User) -> int:
    """How many items the cart holds: the quantities of its lines added up."""
    return session.scalar(select(func.coalesce(func.sum(CartLine.quantity), 0))
                          .where(CartLine.user_id == user.id))


def _audit(session: Session, actor: User | None, user: User, action: str, before: str,
           after: str) -> None:
    """Staff changing the member's cart: an audit entry (portal.accounts.audit)."""
    if acts_for_another(actor, user.id):
        record_for_member(session, actor=actor, member_id=user.id, area="cart", subject="cart",
                          action=action, before=before, after=after)


def _in_words(line: CartLine | None) -> str:
    return f"{line.quantity} × {line.product.sku} ({line.unit_code})" if line else ""


def add_to_cart(session: Session, *, user: User, actor: User | None = None, product_id: int,
                unit_code: str, quantity: int, max_quantity: int) -> CartLine:
    """Add ``quantity`` of a product in a unit; the same product and unit again adds up."""
    product = active_product(session, product_id)
    sellable_unit(product, unit_code, quantity, max_quantity)
    line = session.scalar(select(CartLine).where(CartLine.user_id == user.id,
                                                 CartLine.product_id == product.id,
                                                 CartLine.unit_code == unit_code))
    before = _in_words(line)
    if line is None:
        line = CartLine(user_id=user.id, product_id=product.id, unit_code=unit_code,
                        quantity=quantity)
        session.add(line)
    else:
        sellable_unit(product, unit_code, line.quantity + quantity, max_quantity)
        line.quantity += quantity
    session.flush()
    _audit(session, actor, user, "added to the cart", before, _in_words(line))
    return line


def owned_line(session: Session, user: User, line_id: int) -> CartLine:
    line = session.get(CartLine, line_id)
    if line is None or line.user_id != user.id:
        raise NotFound("That item is no longer in your cart.")
    return line


def change_line(session: Session, *, user: User, actor: User | None = None, line_id: int,
                unit_code: str, quantity: int, max_quantity: int) -> CartLine:
    line = owned_line(session, user, line_id)
    before = _in_words(line)
    changed = _change_line(session, user, line, unit_code, quantity, max_quantity)
    _audit(session, actor, user, "cart line changed", before, _in_words(changed))
    return changed


def _change_line(session: Session, user: User, line: CartLine, unit_code: str, quantity: int,
                 max_quantity: int) -> CartLine:
    sellable_unit(line.product, unit_code, quantity, max_quantity)
    if unit_code != line.unit_code:
        twin = session.scalar(select(CartLine).where(
            CartLine.user_id == user.id, CartLine.product_id == line.product_id,
            CartLine.unit_code == unit_code))
        if twin is not None:  # merge into the line that already has that unit
            sellable_unit(line.product, unit_code, twin.quantity + quantity, max_quantity)
            twin.quantity += quantity
            session.delete(line)
            session.flush()
            return twin
    line.unit_code, line.quantity = unit_code, quantity
    session.flush()
    return line


def remove_line(session: Session, *, user: User, actor: User | None = None, line_id: int) -> None:
    line = owned_line(session, user, line_id)
    before = _in_words(line)
    session.delete(line)
    session.flush()
    _audit(session, actor, user, "removed from the cart", before, "")


def empty_cart(session: Session, user: User) -> None:
    session.execute(delete(CartLine).where(CartLine.user_id == user.id))


def priced_cart(session: Session, user: User) -> tuple[list[PricedLine], list[str]]:
    """The cart priced now, and a problem message for each line that can no longer be sold."""
    priced, problems = [], []
    for line in cart_lines(session, user):
        product = line.product
        unit = product.unit(line.unit_code)
        if not product.active or unit is None:
            problems.append(f"{product.name} ({line.unit_code}) is no longer available; "
                            "remove it to check out.")
            continue
        priced.append(PricedLine(product_id=product.id, sku=product.sku, name=product.name,
                                 unit_code=unit.code, eaches_per_unit=unit.eaches_per_unit,
                                 quantity=line.quantity, unit_price=unit.price,
                                 unit_pv=unit.pv, unit_bv=unit.bv))
    return priced, problems


__all__ = ["OrderingError", "add_to_cart", "cart_lines", "change_line", "empty_cart",
           "items_in_cart", "priced_cart", "remove_line"]
