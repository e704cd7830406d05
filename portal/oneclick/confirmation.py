"""The answer a press of the 1-Click button gets, kept with the press so that a repeat of the
same request gets the same answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime

from portal.oneclick.rules import SHIPS_ON_ARRIVAL


@dataclass(frozen=True)
class Confirmation:
    """The answer to a single-action request as first given; stored with the request so that
    a repeat of it gets the same answer."""

    order_id: int
    order_number: str
    person: str
    product_id: int
    product_name: str
    unit_label: str
    quantity: int
    eaches: int
    line_total: str
    order_total: str          # the order's total right after this line was added
    lines_in_order: int
    combined: bool            # added to an order that was already open
    ship_moniker: str
    ship_masked: str
    card_label: str
    expected_ship_date: str   # ISO date
    ships_from_stock: bool
    combine_until: str        # ISO datetime (UTC): the window closes, the card is charged
    # Other open orders to the same place with the same card that ship on other dates: they
    # are why this item is an order of its own. [[number, ISO date], ...]
    other_open_orders: list = field(default_factory=list)
    # Why it ships then: from stock, on the next expected arrival, or after the lead time
    # (answers recorded before this was kept say "" and read as the lead time when not in stock).
    ship_date_basis: str = ""

    def to_json(self) -> str:
        # vars() rather than asdict(): the fields are flat, and asdict's deep copy is slow
        return json.dumps(vars(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Confirmation":
        return cls(**json.loads(text))

    @property
    def ship_date(self) -> date:
        return date.fromisoformat(self.expected_ship_date)

    @property
    def ships_on_arrival(self) -> bool:
        return self.ship_date_basis == SHIPS_ON_ARRIVAL

    @property
    def window_closes(self) -> datetime:
        return datetime.fromisoformat(self.combine_until)

    @property
    def split_from(self) -> list[tuple[str, date]]:
        return [(number, date.fromisoformat(day)) for number, day in self.other_open_orders]
