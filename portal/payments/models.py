from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime
from portal.clock import utcnow
from portal.payments.rules import card_expires_before


class PaymentMethod(Base):
    """A card in a member's wallet. Only the gateway's token, brand, last four and expiry are
    kept: never the card number or the security code."""

    __tablename__ = "payment_methods"
    __table_args__ = (
        Index("ix_payment_methods_user_id", "user_id"),
        Index("uq_payment_methods_user_default_live", "user_id", unique=True,
              postgresql_where=text("is_default AND archived_at IS NULL")),
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_valid"),
        CheckConstraint("length(last4) = 4", name="last4_is_four"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    gateway: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    cardholder: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def label(self) -> str:
        return f"{self.brand} ending {self.last4}"

    @staticmethod
    def label_sql(payment_methods):
        """``label`` for set-based statements over the ``payment_methods`` table."""
        return payment_methods.c.brand + " ending " + payment_methods.c.last4

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"

    def expired_on(self, day: date) -> bool:
        return card_expires_before(self.exp_year, self.exp_month, day)
