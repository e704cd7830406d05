import json
import re
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from portal.autoship.models import AutoshipRun
from portal.orders.models import Order
from tests.autoship.conftest import new_profile
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_admin, make_user

D = date


def test_autoship_run_sync_json_twice_creates_nothing_the_second_time(app, session, member, product):
    for _ in range(3):
        new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["autoship", "run", "--as-of", "2026-12-01", "--json", "--sync"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert {k: summary[k] for k in ("as_of", "due", "created", "skipped", "missed", "failed")} == {
        "as_of": "2026-12-01", "due": 3, "created": 3, "skipped": 0, "missed": 0, "failed": 0}
    assert summary["seconds"] >= 0
    second = json.loads(runner.invoke(args=["autoship", "run", "--as-of", "2026-12-01", "--json", "--sync"]).output)
    assert (second["due"], second["created"]) == (0, 0)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Order)) == 3
    assert {o.status for o in session.scalars(select(Order))} == {"paid"}


def table_rows(page: str, css_class: str) -> list[list[str]]:
    """The cells' text of each body row of the table with ``css_class``."""
    table = re.search(rf'<table class="{css_class}">(.*?)</table>', page, re.S).group(1)
    body = table.split("<tbody>", 1)[1]
    return [[page_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_running_a_finished_date_again_keeps_its_record(app, client, session, redis, member, product):
    for _ in range(3):
        new_profile(session, member, product, first=D(2026, 12, 1))
    session.commit()
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(args=["autoship", "run", "--as-of", "2026-12-01", "--json", "--sync"]).output)
    second = runner.invoke(args=["autoship", "run", "--as-of", "2026-12-01", "--json", "--sync"])
    assert {k: json.loads(second.output)[k] for k in ("attempt", "due", "created", "chunks")} == {
        "attempt": 2, "due": 0, "created": 0, "chunks": 0}
    log_in(client, make_admin(session))
    response = post_form(client, "/admin/autoship/", {"as_of": "2026-12-01"}, page="/admin/autoship/")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Run for December 1, 2026 started (attempt 3): 0 due profiles in 0 chunks." in page

    session.expire_all()
    run = session.get(AutoshipRun, first["run_id"])
    assert (run.attempts, run.status, run.due, run.created, run.chunks_done, run.chunks_total) == (
        3, "done", 3, 3, 1, 1)
    assert "All 3 attempts: 1 of 1 chunks · 3 due · 3 orders created" in page
    attempts = [[row[0], row[1], *row[4:]] for row in table_rows(page, "run-attempts")]
    # attempt, trigger, due, created, skipped, missed, set aside, resumed, chunks, failed chunks
    assert attempts == [["1", "cli", "3", "3", "0", "0", "0", "0", "1/1", "0"],
                        ["2", "cli", "0", "0", "0", "0", "0", "0", "0/0", "0"],
                        ["3", "admin", "0", "0", "0", "0", "0", "0", "0/0", "0"]]
    assert [row[:7] for row in table_rows(page, "run-chunks")] == [
        ["0", "1", f"{run.chunks[0].low_id}–{run.chunks[0].high_id}", "done", "3", "3", "0"]]
    assert session.scalar(select(func.count()).select_from(Order)) == 3


@pytest.mark.parametrize("as_of", ["2026-13-45", "0001-01-01", "9999-12-31", "20261201"])
def test_autoship_run_refuses_a_bad_date(app, session, as_of):
    result = app.test_cli_runner().invoke(args=["autoship", "run", "--as-of", as_of])
    assert result.exit_code == 2
    assert f"'{as_of}' is not a date like 2026-12-01 (years 1900 to 2199)" in result.output
    assert session.scalar(select(func.count()).select_from(AutoshipRun)) == 0


def test_forecast_counts_per_day_without_writing(app, session, member, product):
    new_profile(session, member, product, first=D(2026, 12, 1))
    new_profile(session, member, product, first=D(2026, 12, 15), items=[(product.id, "case", 1)])
    session.commit()
    result = app.test_cli_runner().invoke(args=["autoship", "forecast", "--from", "2026-12-01",
                                                "--to", "2027-01-31", "--json"])
    assert result.exit_code == 0, result.output
    days = [json.loads(line) for line in result.output.splitlines()]
    assert [(d["date"], d["orders"], d["value"]) for d in days] == [
        ("2026-12-01", 1, "20.00"), ("2026-12-15", 1, "110.00"),
        ("2027-01-01", 1, "20.00"), ("2027-01-15", 1, "110.00")]
    assert session.scalar(select(func.count()).select_from(AutoshipRun)) == 0
    bad = app.test_cli_runner().invoke(args=["autoship", "forecast", "--from", "2027-01-01", "--to", "2026-01-01"])
    assert bad.exit_code == 2


def test_the_admin_dashboard_starts_a_run_and_shows_its_progress(app, client, session, redis, member, product,
                                                                  clock):
    clock(datetime(2026, 12, 8, 3, 30, tzinfo=timezone.utc))  # still December 7 in Chicago
    today = D(2026, 12, 7)
    profile = new_profile(session, member, product, first=D(2026, 12, 1))
    profile.next_run_date = today
    admin = make_admin(session)
    log_in(client, admin)
    assert "No runs yet" in client.get("/admin/autoship/").get_data(as_text=True)
    response = post_form(client, "/admin/autoship/", {"as_of": today.isoformat()}, page="/admin/autoship/")
    assert response.status_code == 303
    run = session.scalar(select(AutoshipRun))
    assert (run.due, run.chunks_total, run.status) == (1, 1, "running")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in page and "0 of 1 chunks" in page and "pending" in page
    for url in ("/admin/autoship/forecast", "/admin/autoship/forecast?from=&to="):  # the next two weeks
        forecast = client.get(url).get_data(as_text=True)
        assert 'id="from" name="from" value="2026-12-07"' in forecast and 'name="to" value="2026-12-20"' in forecast
        assert "Mon, Dec 7 1 $20.00 16.00 Total 1 $20.00 16.00" in page_text(forecast)  # two at $10.00, not yet made
    assert "No failed payments." in page_text(client.get("/admin/autoship/payments").get_data(as_text=True))
    assert client.get("/admin/autoship/runs/99999").status_code == 404


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("value, message", [
    ("9999-12-31", "Enter a date between 1900 and 2199."),
    ("0001-01-01", "Enter a date between 1900 and 2199."),
    ("0000-01-01", "Enter a date as YYYY-MM-DD."),
    ("2026-02-30", "Enter a date as YYYY-MM-DD."),
    ("next tuesday", "Enter a date as YYYY-MM-DD."),
])
def test_the_forecast_refuses_a_bad_date_beside_its_field(app, client, session, field, value, message, clock):
    clock(datetime(2026, 12, 8, 3, 30, tzinfo=timezone.utc))  # still December 7 in Chicago
    today = D(2026, 12, 7)
    log_in(client, make_admin(session))
    response = client.get("/admin/autoship/forecast", query_string={field: value})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<small class="field-error" id="{field}-error">{message}' in page
    assert f'id="from" name="from" value="{today.isoformat()}"' in page  # the default period instead


@pytest.mark.parametrize("as_of, message", [
    ("0001-01-01", "No run started: Enter a date between 1900 and 2199."),
    ("soon", "No run started: Enter a date as YYYY-MM-DD."),
    ("2099-01-01", "No run started: a run materialises what is due; it cannot run for a future date."),
])
def test_a_run_for_a_date_out_of_range_is_refused_beside_the_field(client, session, as_of, message):
    log_in(client, make_admin(session))
    response = post_form(client, "/admin/autoship/", {"as_of": as_of}, page="/admin/autoship/")
    assert response.status_code == 422
    assert f'<small class="field-error" id="as_of-error">{message}</small>' in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AutoshipRun)) == 0


def test_members_cannot_reach_the_autoship_dashboard(client, session):
    log_in(client, make_user(session))
    assert client.get("/admin/autoship/").status_code == 403


def test_admins_see_every_profile_with_its_history(client, session, member, product):
    profile = new_profile(session, member, product, first=D(2026, 12, 1))
    log_in(client, make_admin(session))
    listing = client.get(f"/admin/autoship/profiles?member={member.member_number}").get_data(as_text=True)
    assert "Monthly essentials" in listing
    page = client.get(f"/admin/autoship/profiles/{profile.id}").get_data(as_text=True)
    assert "created" in page and member.member_number in page
    assert client.get("/admin/autoship/profiles/424242").status_code == 404
