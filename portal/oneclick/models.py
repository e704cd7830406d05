"""Client identifiers (browsers), the 1-Click settings tying them to people, and the
idempotency record of every single-action request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.db import Base, UTCDateTime
from portal.clock import utcnow
from portal.orders.models import OrderLine
from portal.payments.models import PaymentMethod


class ClientIdentifier(Base):
    """A browser (the "client system"). The browser keeps a random token in a cookie; only the
    token's SHA-256 is stored, so a copy of the database cannot order for anyone. A revoked
    identifier stays revoked: the browser gets a new token when 1-Click is turned on again."""

    __tablename__ = "oneclick_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80))  # "Firefox on Windows"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OneClickSetting(Base):
    """One person's 1-Click on one browser: the stored address and card an order uses.

    A browser may carry several people, a person several browsers, and the same browser may
    serve different people over time; ``disabled_at`` turns it off without losing the history.
    """

    __tablename__ = "oneclick_settings"
    __table_args__ = (
        UniqueConstraint("client_id", "user_id"),
        Index("ix_oneclick_settings_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oneclick_clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    address_id: Mapped[int] = mapped_column(ForeignKey("addresses.id"))
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    keyboard_shortcut: Mapped[bool] = mapped_column(default=False)  # Shift+B orders
    voice_action: Mapped[bool] = mapped_column(default=False)       # "buy now", where supported
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[ClientIdentifier] = relationship(lazy="joined")
    user: Mapped[User] = relationship()
    address: Mapped[Address] = relationship()
    card: Mapped[PaymentMethod] = relationship()

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None and self.client.revoked_at is None


class OneClickRequest(Base):
    """Exactly one order line per idempotency key: every rendered 1-Click button carries a
    fresh key, and a repeat of it (double click, retry, second tab) finds this row and gets the
    answer recorded in ``outcome`` instead of a second order."""

    __tablename__ = "oneclick_requests"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_code IN ('each', 'case', 'lot')", name="unit_known"),
        Index("ix_oneclick_requests_client_id_created_at", "client_id", "created_at"),
        Index("ix_oneclick_requests_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oneclick_clients.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    unit_code: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[int]
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    order_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("order_lines.id", ondelete="SET NULL"))  # None once the line is cancelled
    outcome: Mapped[str] = mapped_column(Text)  # JSON: the confirmation as first answered
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order_line: Mapped[OrderLine | None] = relationship(passive_deletes=True)
