"""The volume pages over HTTP: the report card (an IBO's, a member's own PV only), the period
picker's 400s, team volume (close to the next rank, CSV privacy and formula safety), the admin
plan editor's refusals, recomputing and closing a period, and the advancement report."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.volume.models import HighestRank, PersonVolume, RankPlanVersion, VolumePeriod
from portal.volume.plan import EXAMPLE_PLAN, parse_plan
from tests.conftest import csrf_token, log_in
from tests.factories import make_admin, make_ibo, make_user

NOW = datetime(2026, 12, 15, 18, tzinfo=timezone.utc)
DECEMBER, NOVEMBER = date(2026, 12, 1), date(2026, 11, 1)
PLAN = parse_plan(EXAMPLE_PLAN)


def put(session, person, period, pv, gv=None, rank=None, leg_of=None, role=None):
    """A computed volume row, as the computation writes it."""
    session.add(PersonVolume(period=period, user_id=person.id, role=role or person.role, pv=Decimal(pv),
                             own_pv=Decimal(pv),
                             gv=Decimal(gv if gv is not None else pv), rank=rank, frontline_legs=0,
                             leg_of_id=leg_of.id if leg_of else None))
    session.flush()


@pytest.fixture
def team(session, clock):
    """An IBO with two frontline IBOs (one of them close to their next rank), a customer, and a
    period computed for them."""
    clock(NOW)
    top = make_ibo(session, first_name="Tess", last_name="Top")
    near = make_ibo(session, sponsor=top, first_name="Nora", last_name="=HYPERLINK(\"x\")")
    far = make_ibo(session, sponsor=top, first_name="Finn", last_name="Far")
    customer = make_user(session, sponsor=top, first_name="Cora", last_name="Customer")
    session.add(VolumePeriod(period=DECEMBER, status="open"))
    first, second = PLAN.ranks[0], PLAN.ranks[1]
    put(session, customer, DECEMBER, 40)
    put(session, near, DECEMBER, second.min_pv or 1, Decimal(second.min_gv) * Decimal("0.9") or 1,
        rank=first.code, leg_of=top)
    put(session, far, DECEMBER, 1, 1, leg_of=top)
    put(session, top, DECEMBER, 140, 1000, rank=first.code)
    put(session, near, NOVEMBER, 1, 1, rank=None, leg_of=top)
    session.add(HighestRank(user_id=near.id, rank=first.code, period=DECEMBER))
    session.flush()
    return {"top": top, "near": near, "far": far, "customer": customer}


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_an_ibo_sees_pv_gv_legs_rank_and_what_the_next_rank_needs(client, team):
    log_in(client, team["top"])
    page = text_of(client.get("/volume"))
    assert "GV" in page and "Paid-as rank" in page and PLAN.ranks[0].name in page
    assert "Nora" in page and "Finn" in page  # the legs
    assert f"Next rank: {PLAN.ranks[1].name}" in page
    assert "to go" in page.lower()
    assert "<svg" in page and "The last 12 periods" in page


def test_a_member_sees_their_own_pv_only(client, team):
    log_in(client, team["customer"])
    response = client.get("/volume")
    page = text_of(response)
    assert response.status_code == 200 and "40.00" in page
    for word in ("GV", "Paid-as rank", "Legs", "Next rank", "Nora", "Tess"):
        assert word not in page


@pytest.mark.parametrize("period, reason", [
    ("2026-13", "Write the period as YYYY-MM"),
    ("december", "Write the period as YYYY-MM"),
    ("2027-01", "has not started yet"),
])
def test_a_bad_or_future_period_is_a_400_that_says_why(client, team, period, reason):
    log_in(client, team["top"])
    response = client.get(f"/volume?period={period}")
    assert response.status_code == 400 and reason in text_of(response)
    assert client.get(f"/team/volume?period={period}").status_code == 400


def test_the_period_picker_answers_htmx_with_the_card_alone(client, team):
    log_in(client, team["top"])
    response = client.get("/volume?period=2026-11", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in text_of(response)
    assert "November 2026" in text_of(response)


def test_team_volume_lists_who_is_close_with_what_they_need(client, team):
    log_in(client, team["top"])
    page = text_of(client.get("/team/volume?close=80"))
    close = page.split('id="close-list"')[1].split("By leg")[0]
    assert "Nora" in close and "90%" in close and "400 GV to go" in close
    assert "Finn" not in close   # 1 PV of the 50 Associate asks
    nothing = text_of(client.get("/team/volume?close=95"))
    assert "Nobody below is within 95%" in nothing


def test_how_close_must_be_one_of_the_offered_shares(client, team):
    log_in(client, team["top"])
    assert client.get("/team/volume?close=7").status_code == 400


def test_members_cannot_open_team_volume(client, team):
    log_in(client, team["customer"])
    assert client.get("/team/volume").status_code == 403
    assert client.get("/team/volume/export.csv", buffered=True).status_code == 403


def test_the_csv_keeps_team_privacy_and_defuses_formulas(client, session, team):
    log_in(client, team["top"])
    response = client.get("/team/volume/export.csv", buffered=True)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(text_of(response))))
    assert rows[0] == ["member_number", "first_name", "last_name", "role", "level", "sponsor",
                       "period", "pv", "gv", "rank"]
    near = next(r for r in rows if r[0] == team["near"].member_number)
    assert near[2].startswith("'=")   # shown as text, never run as a formula
    assert all("Secret" not in cell and "4242" not in cell for row in rows for cell in row)
    assert {r[0] for r in rows[1:]} == {team["near"].member_number, team["far"].member_number,
                                        team["customer"].member_number}


def test_an_outsider_sees_only_their_own_team(client, session, team):
    outsider = make_ibo(session)
    log_in(client, outsider)
    page = text_of(client.get("/team/volume"))
    assert "Nora" not in page


def test_ranks_show_in_the_team_table_and_tree(client, team):
    log_in(client, team["top"])
    assert PLAN.ranks[0].name in text_of(client.get("/team/autoships"))
    assert PLAN.ranks[0].name in text_of(client.get("/team/tree"))


# --- admin -----------------------------------------------------------------------------------

@pytest.fixture
def admin(client, session, team):
    person = make_admin(session)
    log_in(client, person)
    return person


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, "/admin/volume/plan"), **data})


@pytest.mark.parametrize("change, reason", [
    (lambda d: d["ranks"][0].update(min_pv=-5), "cannot be negative"),
    (lambda d: d["ranks"][1].update(legs=[{"count": 1, "rank": "emperor"}]), "emperor"),
])
def test_the_plan_editor_refuses_a_bad_plan_with_its_reason_and_saves_nothing(client, session, admin,
                                                                              change, reason):
    document = json.loads(json.dumps(EXAMPLE_PLAN))
    change(document)
    response = post(client, "/admin/volume/plan", document=json.dumps(document), effective_from="2027-01")
    assert response.status_code == 422 and reason in text_of(response)
    assert "Nothing was saved" in text_of(response)
    assert session.scalar(select(RankPlanVersion)) is None


def test_the_plan_editor_refuses_malformed_json_and_a_malformed_period(client, session, admin):
    response = post(client, "/admin/volume/plan", document="{ranks:", effective_from="soon")
    page = text_of(response)
    assert response.status_code == 422 and "not valid JSON" in page and "YYYY-MM" in page
    assert session.scalar(select(RankPlanVersion)) is None


def test_a_valid_plan_is_saved_as_a_new_version_and_listed(client, session, admin):
    response = post(client, "/admin/volume/plan", document=json.dumps(EXAMPLE_PLAN),
                    effective_from="2027-01", note="Next year's")
    assert response.status_code == 303
    version = session.scalar(select(RankPlanVersion))
    assert version.version == 1 and version.effective_from == date(2027, 1, 1)
    assert "Next year" in text_of(client.get("/admin/volume/plan"))


def test_closing_a_period_asks_first_then_closes_it(client, session, admin):
    session.add(VolumePeriod(period=NOVEMBER, status="open"))
    session.flush()
    asked = post(client, "/admin/volume/periods/2026-11/close")
    assert asked.status_code == 200 and "Close November 2026?" in text_of(asked)
    assert session.get(VolumePeriod, NOVEMBER).status == "open"
    done = post(client, "/admin/volume/periods/2026-11/close", confirm="yes")
    assert done.status_code == 303
    session.expire_all()
    assert session.get(VolumePeriod, NOVEMBER).status == "closed"


def test_recompute_enqueues_the_job_and_the_page_follows_it(client, session, admin, redis):
    response = post(client, "/admin/volume/periods/2026-12/recompute")
    assert response.status_code == 303 and "watch=2026-12" in response.headers["Location"]
    panel = text_of(client.get("/admin/volume/periods/2026-12/progress"))
    assert "Recomputing December 2026" in panel


def test_the_periods_page_lists_them_with_their_actions(client, session, admin):
    session.add(VolumePeriod(period=NOVEMBER, status="closed"))
    session.flush()
    page = text_of(client.get("/admin/volume/"))
    assert "December 2026" in page and "Recompute December 2026" in page and "Close November 2026" not in page
    assert "version 0" in page   # the example plan, until one is saved


def test_admin_period_urls_refuse_a_bad_period(client, admin):
    assert client.get("/admin/volume/periods/2026-99/advancement").status_code == 400
    assert post(client, "/admin/volume/periods/2099-01/close").status_code == 400


def test_the_advancement_report_names_who_moved_up_and_who_reached_a_new_highest(client, team, admin):
    new = text_of(client.get("/admin/volume/periods/2026-12/advancement?show=new"))
    assert "Nora" in new and "Tess" not in new
    up = text_of(client.get("/admin/volume/periods/2026-12/advancement?show=up"))
    assert "Nora" in up and "Tess" in up   # Tess had no row in November
    down = text_of(client.get("/admin/volume/periods/2026-12/advancement?show=down"))
    assert "Nora" not in down


def test_the_close_list_pages_answer_htmx_with_the_list_alone(client, team):
    log_in(client, team["top"])
    response = client.get("/team/volume?close=80&page=2", headers={"HX-Request": "true"})
    body = text_of(response)
    assert response.status_code == 200 and "<html" not in body and "By leg" not in body
    assert "Nora" in body   # past the last page: the last page


def test_an_admin_sees_a_teams_volume_as_its_ibo_would(client, session, team):
    log_in(client, make_admin(session))
    assert "IBO member number" in text_of(client.get("/team/volume"))   # the picker first
    page = text_of(client.get(f"/team/volume?as={team['top'].member_number}&close=80"))
    assert "Nora" in page and "90%" in page
    assert client.get("/team/volume/export.csv", buffered=True).status_code == 404   # no IBO picked


def test_the_recompute_job_computes_the_period_it_was_given(session, clock):
    from jobs.volume_recompute import recompute
    from tests.volume.builders import paid_order

    clock(NOW)
    buyer = make_ibo(session)
    paid_order(session, buyer, 70, NOW)
    summary = recompute("2026-12")
    assert summary["period"] == "2026-12" and summary["rows"] >= 1
    row = session.get(PersonVolume, (DECEMBER, buyer.id))
    assert row.pv == Decimal("70.00") and row.rank == PLAN.ranks[0].code
