from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.catalog.models import Product
from portal.db import Base, UTCDateTime
from portal.clock import utcnow


class CartLine(Base):
    """One product in one unit in a person's cart; the cart is the set of their lines."""

    __tablename__ = "cart_lines"
    __table_args__ = (
        UniqueConstraint("user_id", "product_id", "unit_code"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(lazy="joined")
