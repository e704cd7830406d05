"""The company's today: standing orders and expiry checks use dates in its timezone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def company_today() -> date:
    return datetime.now(ZoneInfo(current_app.config["COMPANY_TIMEZONE"])).date()
