"""Catalog: the rules for what may be ordered, and admin changes to products and stock."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from portal.catalog.models import MAX_ON_HAND, Product, ProductUnit, StockLevel, UnitCode
from portal.catalog.signals import product_sale_changed
from portal.errors import DomainError, NotFound


class OrderingError(DomainError):
    pass


def active_product(session: Session, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("We do not sell that product.")
    if not product.active:
        raise OrderingError(f"{product.name} is no longer available.")
    return product


def sellable_unit(product: Product, unit_code: str, quantity: int, max_quantity: int) -> ProductUnit:
    """The unit to order ``quantity`` of; raises OrderingError with the reason otherwise."""
    unit = product.unit(unit_code)
    if unit is None:
        offered = ", ".join(u.label.lower() for u in product.sellable_units)
        raise OrderingError(f"{product.name} is not sold by the {unit_code or 'unit'} "
                            f"(available: {offered}).", "unit")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise OrderingError("The quantity must be a whole number.")
    if quantity < 1:
        raise OrderingError("The quantity must be at least 1.")
    if quantity > max_quantity:
        raise OrderingError(f"At most {max_quantity} per line; contact us for larger orders.")
    return unit


def search_query(text: str = "", include_inactive: bool = False):
    query = select(Product).order_by(Product.name, Product.id)
    if not include_inactive:
        query = query.where(Product.active.is_(True))
    words = text.strip()[:100].split()
    for word in words[:6]:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Product.name.ilike(pattern), Product.sku.ilike(pattern),
                                Product.description.ilike(pattern),
                                Product.category.ilike(pattern)))
    return query


def create_product(session: Session, *, sku: str, name: str, description: str, category: str,
                   each_price: Decimal, each_pv: Decimal, each_bv: Decimal,
                   case_size: int | None = None, case_price: Decimal | None = None,
                   lot_size: int | None = None, lot_price: Decimal | None = None,
                   on_hand: int = 0) -> Product:
    """A product sold by the each, and optionally by the case and the lot. A case or lot
    carries the volume of its eaches."""
    sku = sku.strip().upper()
    if session.scalar(select(Product.id).where(Product.sku == sku)) is not None:
        raise OrderingError(f"SKU {sku} is already in the catalog.")
    product = Product(sku=sku, name=name.strip(), description=description.strip(),
                      category=category.strip())
    product.units.append(ProductUnit(code=UnitCode.EACH, eaches_per_unit=1, price=each_price,
                                     pv=each_pv, bv=each_bv))
    for code, size, price in ((UnitCode.CASE, case_size, case_price),
                              (UnitCode.LOT, lot_size, lot_price)):
        if size:
            if size < 2:
                raise OrderingError(f"A {code} holds at least 2 eaches.")
            product.units.append(ProductUnit(
                code=code, eaches_per_unit=size,
                price=price if price is not None else each_price * size,
                pv=each_pv * size, bv=each_bv * size))
    product.stock = StockLevel(on_hand=on_hand)
    session.add(product)
    session.flush()
    return product


def set_product_active(session: Session, product_id: int, active: bool) -> Product:
    """Put a product on sale or withdraw it, and announce the change (``product_sale_changed``)
    when there is one: the standing orders holding it recompute their stored cycle PV."""
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    if product.active != active:
        product.active = active
        session.flush()
        product_sale_changed.send(product, session=session)
    return product


def adjust_stock(session: Session, product_id: int, on_hand: int) -> StockLevel:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound("No such product.")
    # Locked and re-read: a planning run may have allocated more since the product was loaded.
    stock = session.get(StockLevel, product.id, with_for_update=True, populate_existing=True) \
        or StockLevel(product_id=product.id)
    if on_hand < stock.allocated:
        raise OrderingError(f"{stock.allocated} eaches are allocated to orders; on hand cannot "
                            "go below that.")
    if on_hand > MAX_ON_HAND:
        raise OrderingError(f"At most {MAX_ON_HAND:,} eaches of one product on hand.")
    stock.on_hand = on_hand
    product.stock = stock
    session.flush()
    return stock


def find_products(session: Session, text: str) -> list[Product]:
    return list(session.scalars(search_query(text).limit(20)))
