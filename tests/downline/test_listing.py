"""The team list: one row per person, filters, sorts, keyset pages and the export."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from portal.clock import company_today, utcnow
from portal.downline.listing import SORTS, TeamFilters, team_page, team_rows
from portal.downline.paging import BadCursor, encode_cursor
from portal.extensions import db
from portal.orders.models import Order

IN_TREE_ORDER = ["M100", "M11", "M111", "M1111"]  # IBO 1's downline, path order


def numbers(page) -> list[str]:
    return [row.member_number for row in page.rows]


def all_pages(session, ancestor, filters, size):
    seen, cursor = [], None
    for _ in range(50):
        page = team_page(session, ancestor, filters, cursor=cursor, size=size)
        seen += numbers(page)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


def test_one_row_per_person_with_their_best_status_soonest_date_and_active_pv(session, team):
    today = company_today()
    page = team_page(session, team.people[1], TeamFilters())
    by_number = {row.member_number: row for row in page.rows}
    assert numbers(page) == IN_TREE_ORDER and page.next_cursor is None
    assert {n: r.status for n, r in by_number.items()} == {
        "M100": "paused", "M11": "active", "M111": "payment_failed", "M1111": "active"}
    # Two active profiles, in 3 and in 20 days: the soonest date, and the PV that date ships
    # (3 eaches at 8 PV), not both runs added as if they shipped together.
    assert by_number["M1111"].next_run == today + timedelta(days=3)
    assert by_number["M1111"].pv == Decimal("24.00")
    assert by_number["M100"].pv == 0 and by_number["M100"].next_run is None
    assert [r.level for r in page.rows] == [1, 1, 2, 2]
    assert by_number["M1111"].sponsor_number == "M11"


def test_pv_next_run_adds_the_standing_orders_that_share_the_soonest_date(session, redis, team):
    from tests.downline.conftest import give_autoship

    today = company_today()
    m1111 = team.people[1111]
    give_autoship(session, redis, m1111, team.product, quantity=1, first=today + timedelta(days=3))
    rows = {r.member_number: r for r in team_page(session, team.people[1], TeamFilters()).rows}
    exported = {r.member_number: r for r in team_rows(session, team.people[1], TeamFilters())}
    assert rows["M1111"].pv == exported["M1111"].pv == Decimal("32.00")  # (3 + 1) eaches at 8 PV
    assert rows["M11"].pv == exported["M11"].pv == Decimal("16.00")


def test_people_without_a_profile_show_none_and_outsiders_never_show(session, team):
    page = team_page(session, team.people[9], TeamFilters(status="none"))
    assert "M121" not in numbers(page) and "M12" in numbers(page)
    assert all(row.status == "none" for row in page.rows)
    assert numbers(team_page(session, team.people[12], TeamFilters())) == ["M121"]
    assert numbers(team_page(session, team.people[121], TeamFilters())) == []


@pytest.mark.parametrize("filters, expected", [
    (TeamFilters(level=2), ["M111", "M1111"]),
    (TeamFilters(status="active"), ["M11", "M1111"]),
    (TeamFilters(status="paused"), ["M100"]),
    (TeamFilters(status="payment_failed"), ["M111"]),
    (TeamFilters(status="cancelled"), []),
    (TeamFilters(text="m111"), ["M111", "M1111"]),
    (TeamFilters(text="pat%"), []),  # LIKE wildcards are literal
    (TeamFilters(level=1, status="active"), ["M11"]),
])
def test_filters(session, team, filters, expected):
    assert numbers(team_page(session, team.people[1], filters)) == expected


def test_next_run_range(session, team):
    today = company_today()
    filters = TeamFilters(next_from=today + timedelta(days=1), next_to=today + timedelta(days=4))
    assert numbers(team_page(session, team.people[1], filters)) == ["M1111"]


def test_sorts(session, team):
    ibo = team.people[1]
    # Dated first, soonest first; then the rest by id.
    assert numbers(team_page(session, ibo, TeamFilters(sort="next"))) == [
        "M1111", "M11", "M100", "M111"]
    assert numbers(team_page(session, ibo, TeamFilters(sort="pv")))[:2] == ["M1111", "M11"]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("size", [1, 2, 3])
def test_keyset_pages_cover_everyone_once_in_order(session, team, sort, size):
    full = numbers(team_page(session, team.people[9], TeamFilters(sort=sort), size=200))
    assert all_pages(session, team.people[9], TeamFilters(sort=sort), size) == full
    assert len(full) == len(set(full)) == 13


@pytest.mark.parametrize("cursor", ["x", "!!!!", "e30", encode_cursor("pv", 1, 1),
                                    encode_cursor("tree", "../", 1), encode_cursor("tree", "/1/", -5),
                                    "A" * 5000])
def test_a_damaged_cursor_is_refused(session, team, cursor):
    with pytest.raises(BadCursor):
        team_page(session, team.people[1], TeamFilters(), cursor=cursor)


def test_a_page_is_one_statement_whatever_its_size(session, team):
    statements = []

    def count(*args, **kwargs):
        statements.append(1)

    ancestor = team.people[9]
    assert ancestor.tree_path and ancestor.depth == 0  # loaded before counting
    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        sizes = {}
        for size in (1, 2, 4):
            for sort in SORTS:
                statements.clear()
                team_page(session, ancestor, TeamFilters(sort=sort), size=size)
                sizes[(size, sort)] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert set(sizes.values()) == {1}, sizes


@pytest.mark.parametrize("filters", [TeamFilters(), TeamFilters(status="active"), TeamFilters(level=2),
                                     TeamFilters(status="none"), TeamFilters(text="pat")])
def test_the_export_has_the_same_rows_as_the_pages(session, team, filters):
    for days, status in ((5, "paid"), (1, "cancelled")):
        session.add(Order(user_id=team.people[11].id, status=status, source="checkout",
                          placed_at=utcnow() - timedelta(days=days), ship_moniker="Home",
                          ship_name="x", ship_line1="x", ship_city="x", ship_region="x",
                          ship_postal_code="1", ship_country="US", destination_key="x",
                          payment_label="x", subtotal=Decimal(1), shipping_fee=Decimal(0),
                          total=Decimal(1), pv_total=Decimal(1), bv_total=Decimal(1)))
    session.commit()
    paged = team_page(session, team.people[9], filters, size=200).rows
    exported = list(team_rows(session, team.people[9], filters, batch=3))
    assert exported == paged
    days = {row.member_number: row.days_since_last_order(company_today()) for row in paged}
    assert days.get("M11", 5) in (4, 5, 6) and days.get("M100") is None  # the cancelled one does not count


def test_the_next_run_range_applies_to_the_soonest_active_run(session, team):
    today = company_today()
    late = TeamFilters(next_from=today + timedelta(days=4))  # 1111's soonest (+3) is before it
    assert numbers(team_page(session, team.people[1], late)) == ["M11"]
    assert [r.member_number for r in team_rows(session, team.people[1], late)] == ["M11"]
    window = TeamFilters(next_from=today, next_to=today + timedelta(days=30), status="active")
    assert numbers(team_page(session, team.people[1], window)) == ["M11", "M1111"]
    assert [r.member_number for r in team_rows(session, team.people[1], window)] == ["M11", "M1111"]
