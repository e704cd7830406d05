"""The rules of 1-Click: who may use it, the knobs that shape a single-action order (how long
orders combine, how many a browser may place in an hour, the backorder lead time, the largest
line, the shipping fee) and the reasons an item ships when it does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from portal.accounts.models import Role
from portal.orders.rules import ShippingRule, shipping_rule

SHOPPER_ROLES = (Role.MEMBER, Role.IBO)
# A button's idempotency key: what the page generated, never anything a person types.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,80}$")
BUTTON_NOT_VALID = "This 1-Click button is not valid. Reload the page and try again."
SHIPS_FROM_STOCK, SHIPS_ON_ARRIVAL, SHIPS_AFTER_LEAD_TIME = "stock", "arrival", "lead time"


@dataclass(frozen=True)
class OneClickRules:
    combine_window: timedelta
    max_per_hour: int
    backorder_days: int
    max_quantity: int
    shipping: ShippingRule


def rules_from(config) -> OneClickRules:
    return OneClickRules(combine_window=timedelta(minutes=int(config["ONECLICK_COMBINE_MINUTES"])),
                         max_per_hour=int(config["ONECLICK_MAX_PER_HOUR"]),
                         backorder_days=int(config["ONECLICK_BACKORDER_DAYS"]),
                         max_quantity=int(config["MAX_LINE_QUANTITY"]),
                         shipping=shipping_rule(config))
