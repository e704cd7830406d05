"""What a change to a standing order costs, said before it is made: the PV leaving the period
and whether the person's own projected paid-as rank (an IBO) or their sponsor's drops; the same
note on the upline's attention list."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.autoship.models import AutoshipProfile, AutoshipSkip
from portal.volume.models import PersonVolume, VolumePeriod
from portal.volume.plan import EXAMPLE_PLAN, parse_plan
from portal.volume.qualification_notes import PAUSE, SKIP, MOVE, pv_leaving, qualification_note
from tests.confirmation_pages import confirmation_form
from tests.conftest import log_in, page_text
from tests.downline.conftest import give_autoship
from tests.factories import make_ibo, make_product, make_user

NOW = datetime(2026, 12, 15, 18, tzinfo=timezone.utc)
TODAY, DECEMBER = date(2026, 12, 15), date(2026, 12, 1)
RUN = date(2026, 12, 20)   # the standing orders' next run: in December
ASSOCIATE = parse_plan(EXAMPLE_PLAN).ranks[0]   # asks 50 PV


@pytest.fixture
def people(session, redis, clock):
    """Tess (an IBO) has 20 PV paid this month; her customer Cora's standing order brings 40 PV
    on the 20th, and so does Tess's own: either one makes her an Associate by the period's end."""
    clock(NOW)
    product = make_product(session, each_pv=Decimal("8.00"))
    tess = make_ibo(session, first_name="Tess", last_name="Top")
    cora = make_user(session, sponsor=tess, first_name="Cora", last_name="Customer")
    session.add(VolumePeriod(period=DECEMBER, status="open"))
    session.add(PersonVolume(period=DECEMBER, user_id=tess.id, role="ibo", pv=Decimal(20), own_pv=Decimal(20),
                             gv=Decimal(20), rank=None, frontline_legs=0))
    session.flush()
    return {"tess": tess, "cora": cora,
            "cora_profile": give_autoship(session, redis, cora, product, quantity=5, first=RUN),
            "product": product}


def test_pv_leaving_counts_the_runs_the_period_loses(session, people):
    profile = people["cora_profile"]
    assert profile.cycle_pv is not None
    assert pv_leaving(session, profile, SKIP, today=TODAY, day=RUN) == Decimal("40.00")
    assert pv_leaving(session, profile, SKIP, today=TODAY, day=date(2027, 1, 20)) == 0  # not this period
    assert pv_leaving(session, profile, PAUSE, today=TODAY, resume_on=None) == Decimal("40.00")
    assert pv_leaving(session, profile, PAUSE, today=TODAY, resume_on=date(2026, 12, 18)) == 0
    assert pv_leaving(session, profile, MOVE, today=TODAY, new_date=date(2027, 1, 4)) == Decimal("40.00")
    assert pv_leaving(session, profile, MOVE, today=TODAY, new_date=date(2026, 12, 28)) == 0


def test_a_customers_skip_says_the_sponsor_loses_their_rank(session, people):
    note = qualification_note(session, people["cora"], Decimal(40), today=TODAY)
    assert note.costs_rank
    assert note.sentences == ("This takes 40.00 PV out of December 2026.",
                              "Your sponsor Tess Top's projected paid-as rank drops from Associate to no rank.")


def test_an_ibos_own_skip_says_their_own_rank_drops(session, redis, people):
    give_autoship(session, redis, people["tess"], people["product"], quantity=5, first=RUN)
    note = qualification_note(session, people["tess"], Decimal(40), today=TODAY)
    # with both standing orders she would reach 100 PV; without her own, 60: still an Associate
    assert not note.costs_rank
    assert "Your projected PV for December 2026 goes from 100.00 to 60.00." in note.sentences
    assert "Your projected paid-as rank stays Associate." in note.sentences
    bigger = qualification_note(session, people["tess"], Decimal(80), today=TODAY)
    assert bigger.costs_rank and "Your projected paid-as rank drops from Associate to no rank." in bigger.sentences


def test_no_pv_leaving_means_no_note(session, people):
    assert qualification_note(session, people["cora"], Decimal(0), today=TODAY) is None


def test_skipping_asks_first_with_the_note_then_skips_when_confirmed(client, session, people):
    log_in(client, people["cora"])
    profile = people["cora_profile"]
    location = f"/autoship/{profile.id}"
    token = client.get(location).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    asked = client.post(f"{location}/skip", data={"day": RUN.isoformat(), "csrf_token": token})
    assert asked.status_code == 200
    text = page_text(asked.get_data(as_text=True))
    assert "This takes 40.00 PV out of December 2026." in text
    assert "Your sponsor Tess Top's projected paid-as rank drops from Associate to no rank." in text
    assert session.scalar(select(AutoshipSkip)) is None          # nothing skipped yet
    action, fields = confirmation_form(asked.get_data(as_text=True))
    assert fields["day"] == RUN.isoformat() and fields["confirm"] == "yes"
    assert client.post(action, data=fields).status_code == 303
    assert session.scalar(select(AutoshipSkip.skip_date)) == RUN


def test_a_change_that_keeps_the_pv_in_the_period_does_not_ask(client, session, people):
    log_in(client, people["cora"])
    profile = people["cora_profile"]
    location = f"/autoship/{profile.id}"
    token = client.get(location).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    moved = client.post(f"{location}/next-date", data={"new_date": "2026-12-28", "mode": "once",
                                                        "csrf_token": token})
    assert moved.status_code == 303
    session.expire_all()
    assert session.get(AutoshipProfile, profile.id).next_run_date == date(2026, 12, 28)


def test_pausing_asks_first_and_pauses_nothing_until_confirmed(client, session, people):
    log_in(client, people["cora"])
    profile = people["cora_profile"]
    location = f"/autoship/{profile.id}"
    token = client.get(location).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    asked = client.post(f"{location}/pause", data={"resume_on": "", "csrf_token": token},
                        headers={"HX-Request": "true"})
    assert asked.status_code == 200 and "<html" not in asked.get_data(as_text=True)  # the fragment
    assert "This takes 40.00 PV out of December 2026." in page_text(asked.get_data(as_text=True))
    session.expire_all()
    assert session.get(AutoshipProfile, profile.id).status == "active"


def test_the_upline_attention_list_says_when_a_pause_costs_a_rank(client, session, people):
    profile = people["cora_profile"]
    profile.status = "paused"
    session.flush()
    log_in(client, people["tess"])
    text = page_text(client.get("/team/attention").get_data(as_text=True))
    assert "This took 40.00 PV out of December 2026." in text
    assert "Their sponsor Tess Top's projected paid-as rank drops from Associate to no rank." in text


def test_the_projection_adds_what_the_team_totals_forecast_for_the_rest_of_the_month(client, session, redis,
                                                                                      people):
    from portal.downline.totals import team_totals
    from portal.volume.projection import project_standing
    from portal.volume.standing import standing_of

    below = make_ibo(session, sponsor=people["tess"], first_name="Lee", last_name="Leg")
    give_autoship(session, redis, below, people["product"], quantity=3, first=date(2026, 12, 27))
    tess = people["tess"]
    projected = project_standing(session, tess, standing_of(session, tess, DECEMBER), today=TODAY)
    forecast = team_totals(session, tess, TODAY, months=1).months[0].pv
    assert projected.scheduled_gv == forecast == Decimal("64.00")   # Cora's 40 and Lee's 24
    assert projected.scheduled_pv == Decimal("40.00")               # a customer's is Tess's PV
    assert [(leg.member, leg.gv) for leg in projected.legs] == [(below.member_number, Decimal("24.00"))]
    assert projected.rank.code == "associate"
    log_in(client, tess)
    text = page_text(client.get("/volume").get_data(as_text=True))
    assert "Projected PV 60.00" in text and "Projected rank Associate" in text
