from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, Money, UTCDateTime, Volume
from portal.clock import utcnow
from portal.formatting import counted


class UnitCode(StrEnum):
    EACH = "each"
    CASE = "case"
    LOT = "lot"


UNIT_LABELS = {UnitCode.EACH: "Each", UnitCode.CASE: "Case", UnitCode.LOT: "Lot"}


# A unit's noun in a count, singular and plural.
UNIT_NOUNS = {UnitCode.EACH: ("each", "eaches"), UnitCode.CASE: ("case", "cases"),
              UnitCode.LOT: ("lot", "lots")}


def unit_count(quantity: int, code: str = UnitCode.EACH, config=None) -> str:
    """A quantity of a unit in words: "1 each", "2 eaches", "3 cases"."""
    singular, plural = UNIT_NOUNS[UnitCode(code)]
    return counted(quantity, singular, plural, config)


def unit_label(code: str, eaches_per_unit: int) -> str:
    """"Each", "Case of 12", "Lot of 48"."""
    name = UNIT_LABELS[UnitCode(code)]
    return name if code == UnitCode.EACH else f"{name} of {eaches_per_unit}"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    units: Mapped[list["ProductUnit"]] = relationship(
        back_populates="product", order_by="ProductUnit.eaches_per_unit", lazy="selectin",
        cascade="all, delete-orphan")
    stock: Mapped["StockLevel | None"] = relationship(back_populates="product", lazy="joined",
                                                      cascade="all, delete-orphan")

    def unit(self, code: str) -> "ProductUnit | None":
        return next((u for u in self.units if u.code == code and u.active), None)

    @property
    def sellable_units(self) -> list["ProductUnit"]:
        return [u for u in self.units if u.active]

    @property
    def each(self) -> "ProductUnit":
        return next(u for u in self.units if u.code == UnitCode.EACH)


class ProductUnit(Base):
    """A unit of measure a product is sold in: each, case (N eaches) or lot (M eaches),
    with its own price and volume."""

    __tablename__ = "product_units"
    __table_args__ = (
        UniqueConstraint("product_id", "code"),
        CheckConstraint("code IN ('each', 'case', 'lot')", name="code_known"),
        CheckConstraint("eaches_per_unit >= 1", name="eaches_positive"),
        CheckConstraint("code <> 'each' OR eaches_per_unit = 1", name="each_is_one"),
        CheckConstraint("price >= 0 AND pv >= 0 AND bv >= 0", name="amounts_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(8))
    eaches_per_unit: Mapped[int]
    price: Mapped[Decimal] = mapped_column(Money)
    pv: Mapped[Decimal] = mapped_column(Volume)
    bv: Mapped[Decimal] = mapped_column(Volume)
    active: Mapped[bool] = mapped_column(default=True)

    product: Mapped[Product] = relationship(back_populates="units")

    @property
    def label(self) -> str:
        return unit_label(self.code, self.eaches_per_unit)


# The most eaches of one product the portal holds on hand: the stock form, receipts and the
# inventory CSV all stop here, so that sums of stock stay far inside a 32-bit column.
MAX_ON_HAND = 10_000_000


class StockLevel(Base):
    """Stock of a product in eaches. Available = on hand - allocated, never negative."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("allocated >= 0 AND allocated <= on_hand", name="allocated_within_on_hand"),
    )

    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"),
                                            primary_key=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    allocated: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="stock")

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated

    @staticmethod
    def available_sql(stock_levels):
        """``available`` for set-based statements over ``stock_levels`` (outer-joined: a
        product with no stock row has none available)."""
        return func.coalesce(stock_levels.c.on_hand - stock_levels.c.allocated, 0)
