"""Admins: the report of reasons and saves per month, and a product's replacement confirmed with
its counts, started once, its progress polled with htmx."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from portal.autoship.creation import create_profile
from portal.autoship.recurrence import Recurrence
from portal.clock import company_today
from portal.queues import get_queue
from portal.retention.models import Cancellation, Replacement
from portal.retention.report import monthly_answers
from tests.conftest import csrf_token, log_in, page_text
from tests.factories import make_address, make_admin, make_card, make_product, make_user
from tests.retention.conftest import RULES

HTMX = {"HX-Request": "true"}


def holder(session, redis, product, today):
    person = make_user(session)
    address, card = make_address(session, person), make_card(session, person, redis)
    return create_profile(session, user=person, name="Tea", rule=Recurrence.every(1, "months"),
                          regularity="calendar", first_date=today + timedelta(days=10), address_id=address.id,
                          card_id=card.id, items=[(product.id, "each", 1)], today=today, rules=RULES)


def answer(session, profile, at, reason, offer=None):
    session.add(Cancellation(profile_id=profile.id, user_id=profile.user_id, key=f"key-{at.isoformat()}-{reason}",
                             reason=reason, outcome="saved" if offer else "cancelled", offer=offer, at=at))


def test_the_report_counts_reasons_and_saves_in_the_companys_months(session, redis, clock):
    clock(datetime(2026, 12, 8, 12, tzinfo=timezone.utc))
    profile = holder(session, redis, make_product(session), company_today())
    # 03:00 UTC on Dec 1 is still November 30 in Chicago
    answer(session, profile, datetime(2026, 12, 1, 3, tzinfo=timezone.utc), "away", "pause")
    answer(session, profile, datetime(2026, 12, 2, 12, tzinfo=timezone.utc), "away")
    answer(session, profile, datetime(2026, 12, 3, 12, tzinfo=timezone.utc), "too_much", "skip")
    answer(session, profile, datetime(2025, 1, 3, 12, tzinfo=timezone.utc), "too_much")  # too old
    session.flush()
    rows = monthly_answers(session, today=company_today(), months=12, timezone="America/Chicago")
    assert len(rows) == 12 and rows[-1].month.isoformat() == "2026-12-01"
    november, december = rows[-2], rows[-1]
    assert (november.asked, november.saved, november.offers) == ({"away": 1}, {"away": 1}, {"pause": 1})
    assert (december.total, december.total_saved, december.cancelled) == (2, 1, 1)
    assert december.offers == {"skip": 1} and december.save_rate == 0.5
    assert sum(row.total for row in rows) == 3


def test_the_report_page_shows_the_table_and_the_chart(client, session, redis):
    admin = make_admin(session)
    profile = holder(session, redis, make_product(session), company_today())
    answer(session, profile, datetime.now(timezone.utc) - timedelta(hours=1), "too_expensive", "swap")
    session.commit()
    log_in(client, admin)
    page = client.get("/admin/retention/").get_data(as_text=True)
    assert "<svg" in page and "It costs too much" in page and "Swapped an item" in page
    assert "1 answers, 1 saved" in page and "100%" in page


def test_a_replacement_is_confirmed_with_its_counts_then_started_once(client, session, redis):
    admin = make_admin(session)
    old, new = make_product(session, name="Old tea"), make_product(session, name="New tea")
    for _ in range(3):
        holder(session, redis, old, company_today())
    session.commit()
    log_in(client, admin)
    token = csrf_token(client, "/admin/retention/replacements")
    data = {"product_id": old.id, "replacement_id": new.id, "unit_code": "case", "key": "k" * 24,
            "csrf_token": token}
    asked = client.post("/admin/retention/replacements", data=data)
    assert asked.status_code == 200
    assert "3 standing orders of 3 members hold Old tea" in page_text(asked.get_data(as_text=True))
    assert session.scalar(select(Replacement)) is None and get_queue("default").count == 0
    for _ in range(2):  # confirmed twice (a double click): one replacement, one job
        started = client.post("/admin/retention/replacements", data={**data, "confirm": "yes"})
        assert started.status_code == 303
    [replacement] = session.scalars(select(Replacement)).all()
    assert started.headers["Location"] == f"/admin/retention/replacements/{replacement.id}"
    assert get_queue("default").count == 1
    progress = client.get(f"/admin/retention/replacements/{replacement.id}?panel=progress", headers=HTMX)
    text = progress.get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in text and "0 of 3 standing orders" in page_text(text) and "<html" not in text
    assert "HX-Refresh" not in progress.headers
    replacement.status = "done"
    session.commit()
    finished = client.get(f"/admin/retention/replacements/{replacement.id}?panel=progress", headers=HTMX)
    assert finished.headers["HX-Refresh"] == "true"  # the whole page, with what was set aside
    assert "every 2s" not in finished.get_data(as_text=True)


def test_a_replacement_that_makes_no_sense_is_refused_beside_its_field(client, session):
    admin = make_admin(session)
    old = make_product(session, name="Old tea")
    session.commit()
    log_in(client, admin)
    token = csrf_token(client, "/admin/retention/replacements")
    same = client.post("/admin/retention/replacements", data={
        "product_id": old.id, "replacement_id": old.id, "unit_code": "each", "csrf_token": token})
    assert same.status_code == 422 and "Choose another product than the one replaced" in same.get_data(as_text=True)
    nobody = client.post("/admin/retention/replacements", data={
        "product_id": old.id, "replacement_id": make_product(session).id, "unit_code": "each",
        "csrf_token": token, "confirm": "yes"})
    assert nobody.status_code == 422 and "No standing order holds Old tea" in nobody.get_data(as_text=True)


def test_the_chart_stacks_saved_under_cancelled_on_a_scale_of_whole_numbers():
    from datetime import date

    from portal.retention.chart import HEIGHT, BOTTOM, TOP, saves_chart
    from portal.retention.report import MonthRow

    rows = [MonthRow(date(2026, 11, 1), asked={"away": 3, "other": 4}, saved={"away": 3}),
            MonthRow(date(2026, 12, 1)), MonthRow(date(2027, 1, 1), asked={"other": 2})]
    chart = saves_chart(rows)
    assert [t["value"] for t in chart["ticks"]] == [0, 4, 8]  # 7 at most: a scale of 8
    november, december, january = chart["bars"]
    saved, cancelled = november["segments"]
    plot = HEIGHT - TOP - BOTTOM
    assert (saved["label"], saved["value"], saved["h"]) == ("Saved", 3, round(3 / 8 * plot, 1))
    assert (cancelled["label"], cancelled["value"]) == ("Cancelled", 4)
    assert saved["y"] == round(HEIGHT - BOTTOM - saved["h"], 1)
    assert december["segments"] == [] and [s["value"] for s in january["segments"]] == [2]
    assert (november["label"], november["year"], december["year"], january["year"]) == ("Nov", "2026", "", "2027")
