"""Shipping through the admin pages (the form, the CSV upload) and what the member sees on
their order: carrier, tracking number and link, for every way an order is placed."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import User
from portal.clock import company_today
from portal.fulfilment.models import Shipment
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import release_shipment
from tests.autoship.conftest import new_profile
from tests.conftest import csrf_token, log_in
from tests.factories import make_address, make_admin, make_card, make_product
from tests.fulfilment.builders import destination, paid_order, product, ship

TRACKING = "/admin/fulfilment/tracking"


def text_of(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


@pytest.fixture
def admin(client, session):
    log_in(client, make_admin(session))
    return client


def released_box(session, eaches: int = 1):
    order = paid_order(session, destination(session), (product(session, 10), eaches))
    run_planning(session)
    shipment_id = session.scalar(select(Shipment.id).where(Shipment.status == "planned"))
    release_shipment(session, actor=None, shipment_id=shipment_id)
    session.commit()
    return session.get(Shipment, shipment_id), order


def send_file(client, body: bytes, name: str = "tracking.csv"):
    token = csrf_token(client, TRACKING)
    return client.post(TRACKING, data={"tracking-csrf_token": token,
                                       "tracking-file": (io.BytesIO(body), name)},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("fields, message", [
    ({"carrier": "", "numbers": "1Z999AA10123456784"}, "Enter the carrier."),
    ({"carrier": "UPS", "numbers": "=HYPERLINK(\"x\")"}, "looks like a spreadsheet formula"),
    ({"carrier": "@UPS", "numbers": "1Z999AA10123456784"}, "looks like a spreadsheet formula"),
    ({"carrier": "UPS", "numbers": "1Z"}, "4 to 40 letters and digits"),
    ({"carrier": "UPS", "numbers": "1Z999AA10123456784", "shipped_on": "in 3 days"}, "is in the future"),
    ({"carrier": "UPS", "numbers": "1Z999AA10123456784", "shipped_on": "yesterday"}, "date"),
    ({"carrier": "UPS", "numbers": "1Z999\x00AA1"}, "control characters"),
])
def test_the_ship_form_says_what_is_wrong_beside_the_field(admin, session, fields, message):
    box, _ = released_box(session)
    if fields.get("shipped_on") == "in 3 days":
        fields = {**fields, "shipped_on": (company_today() + timedelta(days=3)).isoformat()}
    data = {"shipped_on": company_today().isoformat(), **fields,
            "csrf_token": csrf_token(admin, f"/admin/fulfilment/shipments/{box.id}")}
    response = admin.post(f"/admin/fulfilment/shipments/{box.id}/ship", data=data)
    assert response.status_code == 422 and message in text_of(response)
    assert session.scalar(select(Shipment.status).where(Shipment.id == box.id)) == "released"


def test_every_wrong_field_is_named_at_once(admin, session):
    box, _ = released_box(session)
    data = {"carrier": "=HYPERLINK(1)", "numbers": "1Z", "shipped_on": "2026-01-01",
            "csrf_token": csrf_token(admin, f"/admin/fulfilment/shipments/{box.id}")}
    text = text_of(admin.post(f"/admin/fulfilment/shipments/{box.id}/ship", data=data))
    assert "looks like a spreadsheet formula" in text and "4 to 40 letters and digits" in text
    assert "more than 60 days ago" in text


def test_the_plan_offers_the_form_for_a_released_shipment(admin, session):
    box, _ = released_box(session)
    plan = admin.get("/admin/fulfilment/?status=released").get_data(as_text=True)
    assert f'/admin/fulfilment/shipments/{box.id}#ship' in plan
    page = admin.get(f"/admin/fulfilment/shipments/{box.id}").get_data(as_text=True)
    assert 'id="ship"' in page and '<option value="FedEx">' in page


@pytest.mark.parametrize("source", ["checkout", "oneclick", "autoship"])
def test_the_member_sees_carrier_number_and_link_on_the_order(client, session, redis, source):
    box, order = released_box(session)
    if source == "autoship":
        owner = session.get(User, order.user_id)
        owner.home, owner.card = make_address(session, owner, moniker="Office"), make_card(session, owner, redis)
        profile = new_profile(session, owner, make_product(session))
        order.autoship_profile_id, order.autoship_due_date = profile.id, date(2026, 12, 2)
    order.source = source
    ship(session, box.id, "1Z999AA10123456784", "1Z999AA10123456799")
    session.commit()
    log_in(client, session.get(User, order.user_id))
    page = client.get(f"/orders/{order.id}")
    text = text_of(page)
    assert page.status_code == 200 and "Shipped" in text
    assert f"{company_today().strftime('%B')}" in text and "with UPS" in text
    markup = page.get_data(as_text=True)
    for number in ("1Z999AA10123456784", "1Z999AA10123456799"):
        assert f'href="https://www.ups.com/track?tracknum={number}"' in markup


def test_an_order_shipped_with_another_carrier_shows_the_number_without_a_link(client, session):
    box, order = released_box(session)
    ship(session, box.id, "AF123456", carrier="Acme Freight")
    session.commit()
    log_in(client, session.get(User, order.user_id))
    markup = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "AF123456" in markup and "ask Acme Freight about it" in markup
    assert "tracknum=AF123456" not in markup


def test_an_upload_ships_the_good_rows_and_lists_the_bad_ones(admin, session):
    box, order = released_box(session)
    today = company_today().isoformat()
    response = send_file(admin, f"shipment,carrier,tracking_number,ship_date\n"
                                f"{box.number},UPS,1Z999AA10123456784,{today}\n"
                                f"SH00424242,UPS,1Z999AA10123456785,{today}\n".encode())
    assert response.status_code == 200  # something was applied: committed, with the report
    text = text_of(response)
    assert f"1 shipment marked as shipped ({box.number})" in text
    assert "Line 3: shipment SH00424242 does not exist" in text
    assert session.get(Shipment, box.id).status == "shipped"


def test_an_upload_with_only_good_rows_redirects_with_a_message(admin, session):
    box, _ = released_box(session)
    response = send_file(admin, f"{box.number},USPS,9400111899223300,{company_today().isoformat()}\n".encode())
    assert response.status_code == 303
    assert "1 shipment marked as shipped" in text_of(admin.get(response.headers["Location"]))


def test_an_upload_that_applies_nothing_is_a_422(admin, session):
    box, _ = released_box(session)
    response = send_file(admin, f"{box.number},UPS,+1Z999AA1,{company_today().isoformat()}\n".encode())
    assert response.status_code == 422
    assert "Nothing was marked as shipped" in text_of(response) and "Line 1:" in text_of(response)
    assert session.get(Shipment, box.id).status == "released"


@pytest.mark.parametrize("body, status, message", [
    (b"x" * (10 * 1024 * 1024), 413, "larger than the 2 MiB we accept"),   # 10 MB: refused at the door
    (b"1,UPS,AB1234,2026-01-01\n" * 45_000, 422, "larger than 1,000,000 bytes"),  # under 2 MiB, over the file limit
    (b"\x00\x01\x02", 422, "not a CSV text file"),
])
def test_files_too_big_or_not_csv_are_refused_cleanly(admin, session, body, status, message):
    box, _ = released_box(session)
    response = send_file(admin, body)
    assert response.status_code == status and message in text_of(response)
    assert session.get(Shipment, box.id).status == "released"


def test_a_missing_file_is_a_422(admin):
    token = csrf_token(admin, TRACKING)
    response = admin.post(TRACKING, data={"tracking-csrf_token": token})
    assert response.status_code == 422 and "Choose a CSV file." in text_of(response)


def test_the_ship_date_defaults_to_today(admin, session):
    box, _ = released_box(session)
    page = admin.get(f"/admin/fulfilment/shipments/{box.id}").get_data(as_text=True)
    assert f'value="{company_today().isoformat()}"' in page
    assert (company_today() - timedelta(days=1)).isoformat() not in page
