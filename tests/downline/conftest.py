"""A small team with standing orders: the PREFIX_TREE genealogy (ids that share leading digits)
with profiles in every status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portal.accounts.models import User
from portal.autoship.models import AutoshipProfile
from portal.autoship.recurrence import Recurrence
from portal.autoship.creation import create_profile
from portal.autoship.profiles import AutoshipRules
from portal.clock import company_today
from tests.factories import make_address, make_card, make_product
from tests.genealogy.trees import PREFIX_TREE, build_tree

RULES = AutoshipRules(cutoff_days=2, max_quantity=999, min_pv=Decimal("0"))


def give_autoship(session, redis, person: User, product, *, quantity: int = 2, status: str = "active",
                  first: date | None = None, rule: Recurrence | None = None,
                  card: dict | None = None, price_policy: str = "run_time") -> AutoshipProfile:
    today = company_today()
    if not getattr(person, "_team_home", None):
        person._team_home = make_address(session, person, line1="12 Secret Lane", city="Madison",
                                         region="WI")
        person._team_card = make_card(session, person, redis, **(card or {}))
    profile = create_profile(session, user=person, name=f"Autoship {person.member_number}",
                             rule=rule or Recurrence.every(1, "months"), regularity="calendar",
                             first_date=first or today + timedelta(days=10),
                             address_id=person._team_home.id, card_id=person._team_card.id,
                             items=[(product.id, "each", quantity)], price_policy=price_policy,
                             today=today, rules=RULES)
    if status != "active":
        profile.status = status
        if status == "cancelled":
            from portal.clock import utcnow
            profile.cancelled_at = utcnow()
    session.flush()
    return profile


@dataclass
class Team:
    people: dict[int, User]
    product: object
    profiles: dict[int, AutoshipProfile]


def build_team(session, redis) -> Team:
    """PREFIX_TREE; under IBO 1: 11 (IBO) active, 100 paused, 111 payment failed,
    1111 two active profiles (2 and 3 eaches); 121 (under 12) active; nobody else."""
    people = build_tree(session, PREFIX_TREE)
    product = make_product(session, name="Vitamin D", each_price=Decimal("10.00"),
                           each_pv=Decimal("8.00"))
    today = company_today()
    profiles = {
        11: give_autoship(session, redis, people[11], product, first=today + timedelta(days=5)),
        100: give_autoship(session, redis, people[100], product, status="paused"),
        111: give_autoship(session, redis, people[111], product, status="payment_failed"),
        1111: give_autoship(session, redis, people[1111], product, quantity=2,
                            first=today + timedelta(days=20)),
        121: give_autoship(session, redis, people[121], product),
    }
    give_autoship(session, redis, people[1111], product, quantity=3, first=today + timedelta(days=3))
    session.commit()
    return Team(people=people, product=product, profiles=profiles)


@pytest.fixture
def team(session, redis) -> Team:
    return build_team(session, redis)


MARCH_1ST = datetime(2027, 3, 1, 15, 0, tzinfo=timezone.utc)  # 9 am in the company's timezone


@pytest.fixture
def team_on_march_1st(clock, session, redis) -> Team:
    """``team``, built and looked at on March 1st, 2027: under IBO 1, M1111's runs fall on the
    4th (3 eaches) and 21st (2 eaches) of every month, M11's on the 6th (2 eaches)."""
    clock(MARCH_1ST)
    return build_team(session, redis)
