"""The fast team views (stored cycle PV, grouped schedules) give exactly what a straightforward
computation gives: every profile priced item by item as the engine would and every schedule
stepped one profile at a time, on random teams built through the services."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from jobs.autoship import refresh_product_cycle_pv
from portal.accounts.models import Role
from portal.autoship import creation, items, lifecycle, schedule_changes
from portal.autoship.models import AutoshipProfile, ProfileStatus
from portal.autoship.recurrence import Recurrence
from portal.autoship.profiles import priced_items, schedule_of
from portal.catalog.services import set_product_active
from portal.clock import company_today
from portal.downline.listing import SORTS, TeamFilters, team_page, team_rows
from portal.downline.totals import team_totals
from tests.downline.conftest import RULES
from tests.factories import make_address, make_card, make_product
from tests.genealogy.trees import build_tree, descendants

SCHEDULES = ("FREQ=MONTHLY;INTERVAL=1", "FREQ=WEEKLY;INTERVAL=4", "FREQ=MONTHLY;INTERVAL=2",
             "FREQ=WEEKLY;INTERVAL=1", "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=28,29,30,31;BYSETPOS=-1")
RANKED = ("active", "payment_failed", "unplannable", "paused", "cancelled")


def random_team(session, redis, rng: random.Random, people: int = 30):
    """A random tree (ids that share leading digits) whose people hold 0-3 standing orders of
    every kind, edited afterwards through the services, and a product withdrawn at the end."""
    today = company_today()
    edges, ibos = [(1, None, Role.IBO)], [1]
    for person_id in rng.sample(range(2, 400), people - 1):
        role = Role.IBO if rng.random() < 0.5 else Role.MEMBER
        edges.append((person_id, rng.choice(ibos), role))
        if role == Role.IBO:
            ibos.append(person_id)
    tree = build_tree(session, edges)
    products = [make_product(session, each_pv=Decimal(rng.choice(("0.00", "1.25", "8.00", "13.37"))),
                             case_size=rng.choice((None, 6, 12)), lot_size=None)
                for _ in range(6)]
    for person in list(tree.values())[1:]:
        holds = rng.choice((0, 0, 1, 1, 2, 3))
        if holds:
            home, card = make_address(session, person), make_card(session, person, redis)
        for _ in range(holds):
            chosen = rng.sample(products, rng.randint(1, 3))
            profile = creation.create_profile(
                session, user=person, name="Random", rule=Recurrence.parse(rng.choice(SCHEDULES)),
                regularity=rng.choice(("calendar", "calendar", "rolling")),
                first_date=today + timedelta(days=rng.randrange(3, 100)),
                address_id=home.id, card_id=card.id,
                items=[(p.id, "case" if p.unit("case") and rng.random() < 0.3 else "each",
                        rng.randint(1, 4)) for p in chosen],
                price_policy=rng.choice(("run_time", "locked")), today=today, rules=RULES)
            edit_randomly(session, rng, person, profile, products, today)
    set_product_active(session, products[0].id, False)
    session.commit()
    refresh_product_cycle_pv(products[0].id)  # the job the withdrawal enqueued
    return tree


def edit_randomly(session, rng, person, profile, products, today):
    if rng.random() < 0.3:
        product = rng.choice(products)
        items.add_item(session, user=person, profile=profile, product_id=product.id,
                       unit_code="each", quantity=rng.randint(1, 3), today=today, rules=RULES)
    if rng.random() < 0.3:
        item = rng.choice(profile.items)
        items.change_item(session, user=person, profile=profile, item_id=item.id,
                          unit_code="each", quantity=rng.randint(1, 9), today=today, rules=RULES)
    if rng.random() < 0.2 and len(profile.items) > 1:
        items.remove_item(session, user=person, profile=profile, item_id=profile.items[-1].id,
                          today=today, rules=RULES)
    if rng.random() < 0.2:
        policy = "locked" if profile.price_policy == "run_time" else "run_time"
        lifecycle.change_delivery(session, user=person, profile=profile,
                                  address_id=profile.address_id, card_id=profile.payment_method_id,
                                  shipping_method="standard", price_policy=policy,
                                  out_of_stock_policy="backorder", today=today, rules=RULES)
    if rng.random() < 0.25:
        second = schedule_of(profile).following(profile.next_run_date)
        if second:
            schedule_changes.skip_date(session, user=person, profile=profile, day=second, today=today,
                                       rules=RULES)
    fate = rng.random()
    if fate < 0.1:
        lifecycle.pause(session, user=person, profile=profile, resume_on=None, today=today, rules=RULES)
    elif fate < 0.2:
        lifecycle.cancel(session, user=person, profile=profile, today=today, rules=RULES)
    elif fate < 0.3:
        profile.status = ProfileStatus.PAYMENT_FAILED
    elif fate < 0.4:
        profile.next_run_date = today - timedelta(days=rng.randint(1, 5))  # overdue: counts today
    session.flush()


def expected_totals(session, tree, ancestor_id: int, today: date):
    """The totals, computed the long way from the sponsor links and every item."""
    sponsors = {pid: (person.sponsor_id if pid != 1 else None) for pid, person in tree.items()}
    below = descendants(sponsors, ancestor_id)
    months = [today.replace(day=1)]
    for _ in range(2):
        months.append((months[-1] + timedelta(days=32)).replace(day=1))
    end = (months[-1] + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    pv: dict[tuple[date, int], Decimal] = defaultdict(Decimal)
    runs: dict[date, int] = defaultdict(int)
    profiles_by_status = dict.fromkeys(RANKED, 0)
    best: dict[int, str] = {}
    for profile in session.scalars(select(AutoshipProfile).where(
            AutoshipProfile.user_id.in_(below)).execution_options(populate_existing=True)):
        profiles_by_status[profile.status] += 1
        if profile.user_id not in best or RANKED.index(profile.status) < RANKED.index(best[profile.user_id]):
            best[profile.user_id] = profile.status
        lines, _ = priced_items(profile)
        if profile.status != ProfileStatus.ACTIVE or not lines:
            continue
        for day in schedule_of(profile).upcoming(profile.next_run_date, 60):
            if day > end:
                break
            month = max(day, today).replace(day=1)
            pv[month, below[profile.user_id]] += sum(line.pv for line in lines)
            runs[month] += 1
    people_by_status = {status: list(best.values()).count(status) for status in RANKED}
    people_by_status["none"] = len(below) - len(best)
    return {
        "pv": dict(pv),
        "runs": [runs.get(month, 0) for month in months],
        "months": months,
        "levels": sorted({level for _, level in pv}),
        "profiles_by_status": profiles_by_status,
        "people_by_status": people_by_status,
        "people": len(below),
    }


def expected_rows(session, tree, ancestor_id: int) -> dict[str, tuple]:
    """Per person: status, soonest active run and the cycle PV of the active standing orders
    due that day, the long way."""
    sponsors = {pid: (person.sponsor_id if pid != 1 else None) for pid, person in tree.items()}
    rows = {}
    for person_id in descendants(sponsors, ancestor_id):
        profiles = session.scalars(select(AutoshipProfile).where(
            AutoshipProfile.user_id == person_id)).all()
        active = [p for p in profiles if p.status == ProfileStatus.ACTIVE]
        status = min((p.status for p in profiles), key=RANKED.index, default="none")
        soonest = min((p.next_run_date for p in active), default=None)
        rows[tree[person_id].member_number] = (
            status, soonest, sum((line.pv for p in active if p.next_run_date == soonest
                                  for line in priced_items(p)[0]), Decimal("0.00")))
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_totals_pages_and_export_match_the_long_way(session, redis, seed):
    rng = random.Random(seed)
    tree = random_team(session, redis, rng)
    today = company_today()
    sponsors = {pid: (person.sponsor_id if pid != 1 else None) for pid, person in tree.items()}
    ancestors = [1] + [pid for pid in rng.sample(sorted(tree), 8) if descendants(sponsors, pid)]
    for ancestor_id in ancestors:
        ancestor = tree[ancestor_id]
        want = expected_totals(session, tree, ancestor_id, today)
        got = team_totals(session, ancestor, today)
        assert [m.month for m in got.months] == want["months"]
        assert {(m.month, level): pv for m in got.months
                for level, pv in m.pv_by_level.items()} == want["pv"]
        assert [m.runs for m in got.months] == want["runs"]
        assert got.levels == want["levels"]
        assert got.profiles_by_status == want["profiles_by_status"]
        assert got.people_by_status == want["people_by_status"]
        assert got.people == want["people"]
        assert got.active_profiles == want["profiles_by_status"]["active"]

        rows = expected_rows(session, tree, ancestor_id)
        for sort in SORTS:
            page = team_page(session, ancestor, TeamFilters(sort=sort), size=200)
            assert {r.member_number: (r.status, r.next_run, r.pv) for r in page.rows} == rows
        exported = {r.member_number: (r.status, r.next_run, r.pv)
                    for r in team_rows(session, ancestor, TeamFilters())}
        assert exported == rows
