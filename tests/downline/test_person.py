"""One person as their upline sees them: standing orders without card details or street."""

from __future__ import annotations

from decimal import Decimal

from portal.clock import company_today
from portal.downline.person import person_profiles
from portal.orders.pricing import ShippingRule
from tests.downline.conftest import RULES

def test_the_card_is_described_by_status_only(session, team):
    views = person_profiles(session, team.people[1111], today=company_today(), rules=RULES,
                                    shipping=ShippingRule(Decimal("5"), Decimal("100")))
    assert {v.card_status for v in views} == {"Card on file, valid for the next run"}
    assert all(v.city == "Madison" and v.region == "WI" for v in views)
