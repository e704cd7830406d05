"""The forecast: for each day, what that day's run will create; a period it cannot cover is
refused beside its field, never cut short."""

import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.autoship import lifecycle, schedule_changes
from portal.autoship.creation import create_profile
from portal.autoship.forecast import ForecastDay, forecast
from portal.autoship.models import PricePolicy
from portal.autoship.recurrence import Recurrence
from portal.catalog.services import set_product_active
from portal.orders.models import Order
from tests.autoship.conftest import RULES
from tests.conftest import log_in
from tests.factories import make_admin, make_product

D = date
TODAY = D(2026, 12, 7)
NOON = datetime(2026, 12, 7, 18, tzinfo=timezone.utc)  # noon in Chicago, the company's zone
MIN_PV = Decimal("20")


def every_kind_of_standing_order(session, member, product):
    """A standing order of each schedule kind, made on ``TODAY``, and the states that change
    what a run creates: overdue, skipped dates, paused until a date, locked prices, an item out
    of stock or withdrawn, a cycle below the minimum PV."""
    scarce = make_product(session, name="Scarce", each_price=Decimal("7.00"), each_pv=Decimal("5.00"),
                          on_hand=0)
    withdrawn = make_product(session, name="Withdrawn", each_price=Decimal("3.00"))

    def make(rule, first, regularity="calendar", items=None, **kwargs):
        return create_profile(session, user=member, name="Essentials", rule=rule, regularity=regularity,
                              first_date=first, address_id=member.home.id, card_id=member.card.id,
                              items=items or [(product.id, "each", 3)], today=TODAY, rules=RULES,
                              **kwargs)

    make(Recurrence.every(1, "weeks"), D(2026, 12, 10))
    make(Recurrence.every(3, "weeks"), D(2026, 12, 12), items=[(product.id, "case", 1)])
    make(Recurrence.monthly(15), D(2026, 12, 9))
    make(Recurrence.monthly(31), D(2026, 12, 9), items=[(product.id, "each", 5)])
    make(Recurrence.monthly_weekday(2, "TU"), D(2026, 12, 9))
    make(Recurrence.monthly_weekday(-1, "FR"), D(2026, 12, 9))
    make(Recurrence.every(10, "days"), D(2026, 12, 13), regularity="rolling")
    overdue = make(Recurrence.every(1, "weeks"), D(2026, 12, 9), items=[(product.id, "each", 4)])
    overdue.next_run_date = D(2026, 11, 18)  # the engine did not run for three weeks
    overdue_rolling = make(Recurrence.every(9, "days"), D(2026, 12, 9), regularity="rolling")
    overdue_rolling.next_run_date = D(2026, 11, 28)
    skipping = make(Recurrence.every(2, "weeks"), D(2026, 12, 14))
    for day in (D(2026, 12, 14), D(2027, 1, 11)):
        schedule_changes.skip_date(session, user=member, profile=skipping, day=day, today=TODAY,
                                   rules=RULES)
    paused = make(Recurrence.every(1, "weeks"), D(2026, 12, 9), items=[(product.id, "each", 6)])
    lifecycle.pause(session, user=member, profile=paused, resume_on=D(2026, 12, 23), today=TODAY,
                    rules=RULES)
    paused_for_good = make(Recurrence.every(1, "weeks"), D(2026, 12, 9))
    lifecycle.pause(session, user=member, profile=paused_for_good, resume_on=None, today=TODAY,
                    rules=RULES)
    make(Recurrence.monthly(20), D(2026, 12, 9), price_policy=PricePolicy.LOCKED,
         items=[(product.id, "each", 2), (product.id, "case", 1)])
    make(Recurrence.every(2, "weeks"), D(2026, 12, 16), out_of_stock_policy="skip_item",
         items=[(product.id, "each", 3), (scarce.id, "each", 1)])
    make(Recurrence.every(2, "weeks"), D(2026, 12, 17), out_of_stock_policy="backorder",
         items=[(scarce.id, "each", 4)])
    make(Recurrence.every(1, "months"), D(2026, 12, 18), out_of_stock_policy="skip_item",
         items=[(scarce.id, "each", 4)])  # nothing can ship: no order
    make(Recurrence.every(1, "weeks"), D(2026, 12, 9), items=[(product.id, "each", 3), (withdrawn.id, "each", 2)])
    make(Recurrence.every(1, "weeks"), D(2026, 12, 9), items=[(product.id, "each", 2)])  # 16 PV: below
    set_product_active(session, withdrawn.id, False)
    # Prices rise after the locked standing order was made: it keeps the old ones.
    product.unit("each").price, product.unit("case").price = Decimal("11.00"), Decimal("120.00")
    product.unit("each").pv = Decimal("9.00")
    session.commit()


def test_the_forecast_of_each_day_is_what_that_days_run_creates(app, session, member, product, clock,
                                                                monkeypatch):
    clock(NOON)
    every_kind_of_standing_order(session, member, product)
    monkeypatch.setitem(app.config, "AUTOSHIP_MIN_PV", str(MIN_PV))
    forecast_days = forecast(session, TODAY, TODAY + timedelta(days=61), today=TODAY, min_pv=MIN_PV)

    created, seen = [], set()
    for offset in range(62):
        day = TODAY + timedelta(days=offset)
        clock(NOON + timedelta(days=offset))
        result = app.test_cli_runner().invoke(args=["autoship", "run", "--as-of", day.isoformat(),
                                                    "--sync", "--json"])
        assert result.exit_code == 0, result.output
        session.expire_all()
        new = [o for o in session.scalars(select(Order)) if o.id not in seen]
        seen.update(o.id for o in new)
        assert len(new) == json.loads(result.output)["created"]
        if new:
            created.append(ForecastDay(day, len(new), sum(o.subtotal for o in new),
                                       sum(o.pv_total for o in new)))

    assert forecast_days == created
    by_day = {d.day: d.orders for d in forecast_days}
    # Some of what the table must hold, should the engine and the forecast go wrong together.
    assert by_day[TODAY] == 2                   # the two overdue ones, once each
    assert D(2026, 12, 31) in by_day and D(2027, 1, 29) in by_day  # day 31; the last Friday
    assert sum(by_day.values()) > 60


def test_a_later_period_shows_only_its_own_days(app, session, member, product, clock):
    clock(NOON)
    every_kind_of_standing_order(session, member, product)
    whole = forecast(session, TODAY, D(2027, 2, 6), today=TODAY, min_pv=MIN_PV)
    january = forecast(session, D(2027, 1, 1), D(2027, 1, 31), today=TODAY, min_pv=MIN_PV)
    assert january == [d for d in whole if d.day.month == 1]
    assert D(2027, 1, 1) not in {d.day for d in january}  # no run that day: nothing carried into it


def forecast_rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)][:3]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_admin_forecast_shows_the_whole_period_asked_for(client, session, member, product, clock):
    clock(NOON)
    create_profile(session, user=member, name="Essentials", rule=Recurrence.monthly(21),
                   regularity="calendar", first_date=D(2026, 12, 9), address_id=member.home.id,
                   card_id=member.card.id, items=[(product.id, "each", 3)], today=TODAY, rules=RULES)
    log_in(client, make_admin(session))
    response = client.get("/admin/autoship/forecast", query_string={"from": "2026-12-07", "to": "2027-03-31"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert forecast_rows(page) == [["Mon, Dec 21", "1", "$30.00"], ["Thu, Jan 21", "1", "$30.00"],
                                   ["Sun, Feb 21", "1", "$30.00"], ["Sun, Mar 21", "1", "$30.00"]]
    assert 'id="to" name="to" value="2027-03-31"' in page


@pytest.mark.parametrize("start, end, message", [
    ("2027-01-31", "2027-01-01", "The end is before the start: choose Jan 31, 2027 or later."),
    ("2026-12-07", "2027-12-08", "A forecast covers at most 366 days: choose Dec 7, 2027 or earlier."),
    ("2028-12-01", "2028-12-31", "A forecast reaches at most 731 days past today: choose Dec 7, 2028 or earlier."),
])
def test_a_period_the_forecast_cannot_cover_is_refused_beside_its_end(app, client, session, member, product,
                                                                      clock, start, end, message):
    clock(NOON)
    create_profile(session, user=member, name="Essentials", rule=Recurrence.every(1, "days"),
                   regularity="calendar", first_date=D(2026, 12, 9), address_id=member.home.id,
                   card_id=member.card.id, items=[(product.id, "each", 3)], today=TODAY, rules=RULES)
    log_in(client, make_admin(session))
    response = client.get("/admin/autoship/forecast", query_string={"from": start, "to": end})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'<small class="field-error" id="to-error">{message}</small>' in page
    assert f'id="from" name="from" value="{start}"' in page and f'id="to" name="to" value="{end}"' in page
    assert forecast_rows(page) == [["No forecast for this period: correct the dates above."]]

    result = app.test_cli_runner().invoke(args=["autoship", "forecast", "--from", start, "--to", end])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
