"""The team read-side: one row per person, filters, keyset pages, totals and the attention list."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from portal.autoship.models import AutoshipProfile
from portal.autoship.profiles import schedule_of
from portal.clock import company_today
from portal.downline import queries
from portal.downline.queries import BadCursor, TeamFilters
from portal.extensions import db
from portal.orders.pricing import ShippingRule
from tests.downline.conftest import RULES, give_autoship
from tests.factories import make_product

IN_TREE_ORDER = ["M100", "M11", "M111", "M1111"]  # IBO 1's downline, path order


def numbers(page) -> list[str]:
    return [row.member_number for row in page.rows]


def all_pages(session, ancestor, filters, size):
    seen, cursor = [], None
    for _ in range(50):
        page = queries.team_page(session, ancestor, filters, cursor=cursor, size=size)
        seen += numbers(page)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


def test_one_row_per_person_with_their_best_status_soonest_date_and_active_pv(session, team):
    today = company_today()
    page = queries.team_page(session, team.people[1], TeamFilters())
    by_number = {row.member_number: row for row in page.rows}
    assert numbers(page) == IN_TREE_ORDER and page.next_cursor is None
    assert {n: r.status for n, r in by_number.items()} == {
        "M100": "paused", "M11": "active", "M111": "payment_failed", "M1111": "active"}
    # Two active profiles: the soonest date, and the PV of both (2 + 3 eaches at 8 PV).
    assert by_number["M1111"].next_run == today + timedelta(days=3)
    assert by_number["M1111"].pv == Decimal("40.00")
    assert by_number["M100"].pv == 0 and by_number["M100"].next_run is None
    assert [r.level for r in page.rows] == [1, 1, 2, 2]
    assert by_number["M1111"].sponsor_number == "M11"


def test_people_without_a_profile_show_none_and_outsiders_never_show(session, team):
    page = queries.team_page(session, team.people[9], TeamFilters(status="none"))
    assert "M121" not in numbers(page) and "M12" in numbers(page)
    assert all(row.status == "none" for row in page.rows)
    assert numbers(queries.team_page(session, team.people[12], TeamFilters())) == ["M121"]
    assert numbers(queries.team_page(session, team.people[121], TeamFilters())) == []


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
    assert numbers(queries.team_page(session, team.people[1], filters)) == expected


def test_next_run_range(session, team):
    today = company_today()
    filters = TeamFilters(next_from=today + timedelta(days=1), next_to=today + timedelta(days=4))
    assert numbers(queries.team_page(session, team.people[1], filters)) == ["M1111"]


def test_sorts(session, team):
    ibo = team.people[1]
    # Dated first, soonest first; then the rest by id.
    assert numbers(queries.team_page(session, ibo, TeamFilters(sort="next"))) == [
        "M1111", "M11", "M100", "M111"]
    assert numbers(queries.team_page(session, ibo, TeamFilters(sort="pv")))[:2] == ["M1111", "M11"]


@pytest.mark.parametrize("sort", queries.SORTS)
@pytest.mark.parametrize("size", [1, 2, 3])
def test_keyset_pages_cover_everyone_once_in_order(session, team, sort, size):
    full = numbers(queries.team_page(session, team.people[9], TeamFilters(sort=sort), size=200))
    assert all_pages(session, team.people[9], TeamFilters(sort=sort), size) == full
    assert len(full) == len(set(full)) == 13


@pytest.mark.parametrize("cursor", ["", "x", "!!!!", "e30", queries.encode_cursor("pv", 1, 1),
                                    queries.encode_cursor("tree", "../", 1),
                                    queries.encode_cursor("tree", "/1/", -5), "A" * 5000])
def test_a_damaged_cursor_is_refused(session, team, cursor):
    if not cursor:
        return
    with pytest.raises(BadCursor):
        queries.team_page(session, team.people[1], TeamFilters(), cursor=cursor)


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
            for sort in queries.SORTS:
                statements.clear()
                queries.team_page(session, ancestor, TeamFilters(sort=sort), size=size)
                sizes[(size, sort)] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert set(sizes.values()) == {1}, sizes


def test_totals_match_the_schedules_stepped_one_by_one(session, team):
    today = company_today()
    totals = queries.team_totals(session, team.people[1], today)
    end = (totals.months[-1].month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    expected: dict[date, Decimal] = {}
    active = [p for p in session.query(AutoshipProfile).filter_by(status="active")
              if p.user_id in {team.people[n].id for n in (11, 1111)}]
    for profile in active:
        pv = sum(i.quantity * Decimal("8.00") for i in profile.items)
        for day in schedule_of(profile).upcoming(profile.next_run_date, 10):
            if day <= end:
                month = max(day, today).replace(day=1)
                expected[month] = expected.get(month, Decimal(0)) + pv
    assert {m.month: m.pv for m in totals.months if m.pv} == expected
    assert totals.profiles_by_status == {"active": 3, "payment_failed": 1, "unplannable": 0, "paused": 1,
                                         "cancelled": 0}
    assert totals.people_by_status == {"active": 2, "paused": 1, "payment_failed": 1, "unplannable": 0,
                                       "cancelled": 0, "none": 0}
    assert totals.people == 4
    assert set(totals.levels) <= {1, 2}


def test_the_totals_are_one_statement_and_one_more_for_skipped_dates(session, team):
    from portal.autoship.models import AutoshipSkip
    today = company_today()

    def statements_for(ancestor) -> int:
        statements = []
        engine = db.engine
        listener = lambda *args, **kwargs: statements.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            queries.team_totals(session, ancestor, today)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    ancestors = [team.people[9], team.people[1], team.people[121]]
    assert all(a.tree_path for a in ancestors)  # loaded before counting
    assert [statements_for(a) for a in ancestors] == [1, 1, 1]
    profile = team.profiles[11]
    session.add(AutoshipSkip(profile_id=profile.id,
                             skip_date=schedule_of(profile).following(profile.next_run_date)))
    session.commit()
    assert all(a.tree_path for a in ancestors)
    assert [statements_for(a) for a in ancestors] == [2, 2, 1]


def test_totals_of_an_empty_downline(session, team):
    totals = queries.team_totals(session, team.people[121], company_today())
    assert all(m.pv == 0 for m in totals.months) and totals.people == 0


def test_skipped_dates_are_left_out_of_the_forecast(session, team):
    from portal.autoship.models import AutoshipSkip
    today = company_today()
    before = queries.team_totals(session, team.people[1], today)
    profile = team.profiles[11]
    second = schedule_of(profile).following(profile.next_run_date)
    session.add(AutoshipSkip(profile_id=profile.id, skip_date=second))
    session.commit()
    after = queries.team_totals(session, team.people[1], today)
    in_window = second.replace(day=1) in {m.month for m in before.months}
    lost = sum(m.pv for m in before.months) - sum(m.pv for m in after.months)
    assert lost == (Decimal("16.00") if in_window else 0)
    assert after.schedules_computed == before.schedules_computed


def reasons(session, ancestor, min_pv=Decimal("0")):
    page = queries.attention_page(session, ancestor, today=company_today(), min_pv=min_pv)
    return {row.member_number: row.reasons for row in page.rows}


def test_attention_lists_failed_payments_and_recent_pauses(session, team):
    found = reasons(session, team.people[1])
    assert found["M111"] == ["Last payment failed"]
    assert found["M100"] == ["Paused in the last 30 days"]
    assert "M11" not in found and "M121" not in found


def test_attention_below_minimum_pv_out_of_stock_inactive_and_cancelled(session, team, redis):
    low = make_product(session, each_pv=Decimal("1.00"))
    scarce = make_product(session, on_hand=1)
    gone = make_product(session)
    give_autoship(session, redis, team.people[11], low, quantity=1)
    give_autoship(session, redis, team.people[1111], scarce, quantity=5)
    give_autoship(session, redis, team.people[100], gone, quantity=1, status="cancelled")
    gone.active = False
    session.commit()
    found = reasons(session, team.people[1], min_pv=Decimal("10"))
    assert "Below the minimum PV" in found["M11"]
    assert "An item is out of stock" in found["M1111"]
    assert "Cancelled in the last 30 days" in found["M100"]
    assert "Below the minimum PV" not in found.get("M111", [])  # not active: no run to fall short


def test_attention_card_expiring_before_the_next_run(session, team, redis):
    today = company_today()
    next_month = (today.replace(day=1) + timedelta(days=40)).replace(day=15)
    give_autoship(session, redis, team.people[12], team.product, first=next_month,
                  card={"exp_month": today.month, "exp_year": today.year})
    session.commit()
    assert reasons(session, team.people[9])["M12"] == ["Card expires before the next run"]


def test_attention_pages(session, team):
    ancestor = team.people[9]
    page = queries.attention_page(session, ancestor, today=company_today(), min_pv=Decimal(0), size=1)
    assert len(page.rows) == 1 and page.next_cursor
    second = queries.attention_page(session, ancestor, today=company_today(), min_pv=Decimal(0),
                                    size=1, cursor=page.next_cursor)
    assert second.rows[0].profile_id != page.rows[0].profile_id


def test_direct_recruits_with_counts_and_status(session, team):
    nodes, after = queries.direct_recruits_page(session, team.people[1])
    assert [(n.member_number, n.recruits, n.status) for n in nodes] == [
        ("M100", 0, "paused"), ("M11", 2, "active")]
    assert after is None
    nodes, after = queries.direct_recruits_page(session, team.people[9], size=2)
    assert len(nodes) == 2 and after


def test_person_in_downline_is_a_range_check(session, team):
    assert queries.person_in_downline(session, team.people[1], "M1111").id == team.people[1111].id
    for outsider in ("M1", "M9", "M12", "M121", "M123", "nobody", "M1;--", ""):
        with pytest.raises(queries.NotFound):
            queries.person_in_downline(session, team.people[1], outsider)


def test_the_card_is_described_by_status_only(session, team):
    views = queries.person_profiles(session, team.people[1111], today=company_today(), rules=RULES,
                                    shipping=ShippingRule(Decimal("5"), Decimal("100")))
    assert {v.card_status for v in views} == {"Card on file, valid for the next run"}
    assert all(v.city == "Madison" and v.region == "WI" for v in views)


@pytest.mark.parametrize("filters", [TeamFilters(), TeamFilters(status="active"), TeamFilters(level=2),
                                     TeamFilters(status="none"), TeamFilters(text="pat")])
def test_the_export_has_the_same_rows_as_the_pages(session, team, filters):
    from portal.clock import utcnow
    from portal.orders.models import Order
    for days, status in ((5, "paid"), (1, "cancelled")):
        session.add(Order(user_id=team.people[11].id, status=status, source="checkout",
                          placed_at=utcnow() - timedelta(days=days), ship_moniker="Home",
                          ship_name="x", ship_line1="x", ship_city="x", ship_region="x",
                          ship_postal_code="1", ship_country="US", destination_key="x",
                          payment_label="x", subtotal=Decimal(1), shipping_fee=Decimal(0),
                          total=Decimal(1), pv_total=Decimal(1), bv_total=Decimal(1)))
    session.commit()
    paged = queries.team_page(session, team.people[9], filters, size=200).rows
    exported = list(queries.team_rows(session, team.people[9], filters, batch=3))
    assert exported == paged
    days = {row.member_number: row.days_since_last_order(company_today()) for row in paged}
    assert days.get("M11", 5) in (4, 5, 6) and days.get("M100") is None  # the cancelled one does not count


@given(token=st.text(max_size=300), sort=st.sampled_from(queries.SORTS))
@settings(max_examples=300, deadline=None)
def test_any_cursor_text_is_either_understood_or_refused(token, sort):
    try:
        queries.decode_cursor(sort, token)
    except BadCursor:
        pass


@given(key=st.one_of(st.integers(-2**70, 2**70), st.text(max_size=20), st.dates(), st.none(),
                     st.lists(st.text(max_size=5), max_size=3)),
       person_id=st.one_of(st.integers(-5, 2**70), st.text(max_size=3)),
       sort=st.sampled_from(queries.SORTS), made_for=st.sampled_from(queries.SORTS))
@settings(max_examples=300, deadline=None)
def test_forged_cursors_are_refused_or_well_formed(key, person_id, sort, made_for):
    import base64, json
    raw = json.dumps([made_for, key.isoformat() if isinstance(key, date) else key, person_id])
    token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    try:
        decoded, pid = queries.decode_cursor(sort, token)
    except BadCursor:
        return
    assert made_for == sort and type(pid) is int and pid > 0


def test_the_next_run_range_applies_to_the_soonest_active_run(session, team):
    today = company_today()
    late = TeamFilters(next_from=today + timedelta(days=4))  # 1111's soonest (+3) is before it
    assert numbers(queries.team_page(session, team.people[1], late)) == ["M11"]
    assert [r.member_number for r in queries.team_rows(session, team.people[1], late)] == ["M11"]
    window = TeamFilters(next_from=today, next_to=today + timedelta(days=30), status="active")
    assert numbers(queries.team_page(session, team.people[1], window)) == ["M11", "M1111"]
    assert [r.member_number for r in queries.team_rows(session, team.people[1], window)] == ["M11", "M1111"]
