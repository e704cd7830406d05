from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, event, func, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime
from portal.clock import utcnow

# The widths of an address's parts. An order copies its ship-to from an address, one order at a
# time and in set-based statements alike, so its columns take these same types: an address
# column wider than its copy would let in an address no order could be placed with.
Moniker = String(40)
RecipientName = String(120)
StreetLine = String(120)
CityName = String(80)
RegionName = String(80)
PostalCode = String(20)
CountryCode = String(2)
DestinationKey = String(500)


class Address(Base):
    """A ship-to address with a moniker ("Home", "Office"). Archived, never deleted, so that
    orders and standing orders that used it keep their history."""

    __tablename__ = "addresses"
    __table_args__ = (
        Index("ix_addresses_user_id", "user_id"),
        # "Home" and "HOME" are one moniker. The services compare with casefold() for the
        # friendly message; this index makes it true under concurrency for what lower() folds.
        Index("uq_addresses_user_lower_moniker_live", "user_id", func.lower(literal_column("moniker")),
              unique=True,
              postgresql_where=text("archived_at IS NULL")),
        Index("uq_addresses_user_default_live", "user_id", unique=True,
              postgresql_where=text("is_default AND archived_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    moniker: Mapped[str] = mapped_column(Moniker)
    full_name: Mapped[str] = mapped_column(RecipientName)
    line1: Mapped[str] = mapped_column(StreetLine)
    line2: Mapped[str] = mapped_column(StreetLine, default="")
    city: Mapped[str] = mapped_column(CityName)
    region: Mapped[str] = mapped_column(RegionName)
    postal_code: Mapped[str] = mapped_column(PostalCode)
    country: Mapped[str] = mapped_column(CountryCode, default="US")
    phone: Mapped[str] = mapped_column(String(30), default="")
    is_default: Mapped[bool] = mapped_column(default=False)
    # The normalised destination (see ``normalise_destination``): sibling orders share it.
    destination_key: Mapped[str] = mapped_column(DestinationKey, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def masked(self) -> str:
        """Enough to recognise the address, not enough to use it: "...Springfield 627**"."""
        postal = self.postal_code[:3] + "*" * max(len(self.postal_code) - 3, 0)
        return f"...{self.city} {postal}"

    @property
    def one_line(self) -> str:
        parts = [self.line1, self.line2, f"{self.city}, {self.region} {self.postal_code}", self.country]
        return ", ".join(p for p in parts if p)

    def refresh_destination_key(self) -> None:
        self.destination_key = normalise_destination(
            self.line1, self.line2, self.city, self.region, self.postal_code, self.country)


def normalise_destination(*parts: str) -> str:
    """One key per physical destination: case and spacing do not matter."""
    return "|".join(" ".join((p or "").upper().split()) for p in parts)


@event.listens_for(Address, "before_insert")
@event.listens_for(Address, "before_update")
def _keep_destination_key(mapper, connection, address: Address) -> None:
    address.refresh_destination_key()
