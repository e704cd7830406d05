"""What the member sees: the Points page, the summary on the standing orders, the choice to pay
a standing order with points, and the question before a skip or pause that ends the streak."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import select

from portal.autoship.models import AutoshipSkip
from portal.loyalty.models import PointsOnStandingOrder
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_user
from tests.loyalty.conftest import make_holder, paid_standing_order

UTC = timezone.utc


def streak_of_two(session, holder):
    """Paid in January and February; today is March 5 (company time) with March's shipment
    on the 10th: the streak needs it."""
    first = paid_standing_order(session, holder, datetime(2026, 1, 10, 15, tzinfo=UTC))
    paid_standing_order(session, holder, datetime(2026, 2, 10, 15, tzinfo=UTC))
    holder.profile.next_run_date, holder.profile.cycle_pv = date(2026, 3, 10), Decimal("60.00")
    session.commit()
    return first


def test_the_points_page_shows_balance_rate_month_count_what_ends_it_and_the_ledger(
        client, session, holder, clock):
    order = streak_of_two(session, holder)
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    log_in(client, holder)
    home = client.get("/home").get_data(as_text=True)
    assert 'href="/points/"' in home                                   # in the menu
    text = page_text(client.get("/points/").get_data(as_text=True))
    assert "2,000 points ($20.00 to spend)" in text
    assert "earning 10% · month 2 of your streak" in text              # March's order makes it 3: still 10%
    assert "paid by Tuesday, March 31, 2026" in text
    assert "starts it again at 10%" in text and "15% from month 4" in text
    assert f"Earned at 10%, month 1 {order.number} +1,000 Jan 10, 2027" in text


def test_the_standing_orders_page_sums_up_the_points(client, session, holder, clock):
    streak_of_two(session, holder)
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    log_in(client, holder)
    text = page_text(client.get("/autoship/").get_data(as_text=True))
    assert "Loyalty points 2,000 points ($20.00 to spend) · earning 10% · month 2 of your streak" in text


def test_the_member_chooses_points_for_a_standing_order_and_can_stop(client, htmx, session, holder):
    log_in(client, holder)
    url = f"/points/standing-orders/{holder.profile.id}"
    page = f"/autoship/{holder.profile.id}"
    assert "Use my points on this order" in client.get(page).get_data(as_text=True)
    response = post_form(client, url, {"use_points": "yes"}, page=page)
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert session.get(PointsOnStandingOrder, holder.profile.id) is not None
    assert "Stop using my points" in client.get(page).get_data(as_text=True)
    response = post_form(client, url, {"use_points": "no"}, page=page)
    session.expire_all()
    assert session.get(PointsOnStandingOrder, holder.profile.id) is None
    assert post_form(client, url, {"use_points": "maybe"}, page=page).status_code == 422


def test_nobody_chooses_points_for_another_persons_standing_order(client, session, holder):
    stranger = make_user(session)
    session.commit()
    log_in(client, stranger)
    response = post_form(client, f"/points/standing-orders/{holder.profile.id}", {"use_points": "yes"})
    assert response.status_code == 404
    assert session.scalars(select(PointsOnStandingOrder)).all() == []


def test_a_skip_that_ends_the_streak_asks_first_and_says_so(client, session, holder, clock):
    streak_of_two(session, holder)
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    log_in(client, holder)
    page = f"/autoship/{holder.profile.id}"
    response = post_form(client, f"{page}/skip", {"day": "2026-03-10"}, page=page)
    text = page_text(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Skip Tuesday, March 10, 2026 and end your points streak?" in text
    assert "Your points streak is at month 2" in text and "ships in March 2026" in text
    assert "rate goes back to 10%" in text
    assert session.scalars(select(AutoshipSkip)).all() == []
    response = post_form(client, f"{page}/skip", {"day": "2026-03-10", "confirm": "yes"}, page=page)
    assert response.status_code == 303
    assert [s.skip_date for s in session.scalars(select(AutoshipSkip))] == [date(2026, 3, 10)]


def test_a_pause_that_ends_the_streak_asks_first(client, session, holder, clock):
    streak_of_two(session, holder)
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    log_in(client, holder)
    page = f"/autoship/{holder.profile.id}"
    response = post_form(client, f"{page}/pause", {"resume_on": "2026-04-20"}, page=page)
    assert "Pause and end your points streak?" in page_text(response.get_data(as_text=True))
    session.expire_all()
    assert holder.profile.status == "active"


def test_a_skip_that_leaves_the_month_another_shipment_asks_nothing_of_the_streak(client, session, redis, holder, clock):
    streak_of_two(session, holder)
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    paid_standing_order(session, holder, datetime(2026, 3, 2, 15, tzinfo=UTC))   # March counts already
    log_in(client, holder)
    page = f"/autoship/{holder.profile.id}"
    response = post_form(client, f"{page}/skip", {"day": "2026-03-10"}, page=page)
    # volume may still ask (PV leaves the month); the streak says nothing
    assert "points streak" not in page_text(response.get_data(as_text=True))


def test_a_skip_without_a_streak_asks_nothing_of_it(client, session, redis, clock):
    holder = make_holder(session, redis)
    holder.profile.next_run_date = date(2026, 3, 10)
    session.commit()
    clock(datetime(2026, 3, 5, 15, tzinfo=UTC))
    log_in(client, holder)
    page = f"/autoship/{holder.profile.id}"
    response = post_form(client, f"{page}/skip", {"day": "2026-03-10"}, page=page)
    assert "points streak" not in page_text(response.get_data(as_text=True))


def test_points_show_prints_the_statement_as_json(app, session, holder):
    order = streak_of_two(session, holder)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["points", "show", "--member", holder.member_number, "--as-of", "2026-01-31",
                                 "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert {k: shown[k] for k in ("balance", "rate", "streak_months")} == \
        {"balance": 1000, "rate": "10", "streak_months": 1}
    assert shown["ledger"] == [{"kind": "earned", "points": 1000, "order": order.number,
                                "at": "2026-01-10T15:00:00+00:00", "expires": "2027-01-10"}]
    assert json.loads(runner.invoke(args=["points", "show", "--member", holder.member_number,
                                          "--as-of", "2026-02-28", "--json"]).output)["streak_months"] == 2


def test_points_show_refuses_an_unknown_member_and_a_bad_date(app, holder):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["points", "show", "--member", "nobody", "--json"]).exit_code == 2
    result = runner.invoke(args=["points", "show", "--member", holder.member_number, "--as-of", "2026-02-30"])
    assert result.exit_code == 2 and "is not a date" in result.output


def test_points_program_loads_a_valid_program_and_refuses_a_bad_one_with_reasons(app, session, tmp_path):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"ladder": [{"from_month": 1, "rate": "5"}], "minimum_pv": "20",
                                "expiry_months": 6, "point_value": "0.01"}))
    bad.write_text(json.dumps({"ladder": [{"from_month": 3, "rate": "5"}], "minimum_pv": "20",
                               "expiry_months": 6, "point_value": "0"}))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["points", "program", "--load", str(bad)])
    assert refused.exit_code == 2
    assert "refused: the ladder's first step must start at month 1" in refused.output
    assert "refused: point_value must be at least 0.01 and at most 100" in refused.output
    assert runner.invoke(args=["points", "program", "--load", str(good)]).exit_code == 0
    assert json.loads(runner.invoke(args=["points", "program"]).output)["minimum_pv"] == "20"
