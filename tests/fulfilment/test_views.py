"""Fulfilment pages through HTTP: admins only, every bad input a clear 4xx, members see how
their order ships."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.clock import company_today
from portal.clock import utcnow
from portal.formatting import day
from portal.fulfilment import coordination
from portal.fulfilment.models import InventoryReceipt, PurchaseOrder, Shipment
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import release_shipment
from tests.conftest import csrf_token, log_in
from tests.factories import make_admin, make_ibo, make_user
from tests.fulfilment.builders import destination, expected, paid_order, product, stock_of

PAGES = ["/admin/fulfilment/", "/admin/fulfilment/waiting", "/admin/fulfilment/runs",
         "/admin/fulfilment/stock", "/admin/fulfilment/inventory"]
INVENTORY = "/admin/fulfilment/inventory"


def post(client, url: str, data: dict, prefix: str = "", **kwargs):
    """POST like the browser does from the inventory page: with the (prefixed) CSRF token."""
    token = csrf_token(client, INVENTORY)
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    fields = {f"{prefix}-{key}" if prefix else key: value for key, value in data.items()}
    return client.post(url, data={**fields, name: token}, **kwargs)


@pytest.fixture
def admin(client, session):
    log_in(client, make_admin(session))
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def visible_text(response) -> str:
    """The page's words as a reader sees them: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", text_of(response)).split())


# What each page shows of one world: three eaches of SOAP-1 on hand, an order of five to Hana
# Ito (three ship now, two wait), ten more expected on PO-77 in four days.
PAGE_CONTENT = {
    "/admin/fulfilment/": lambda w: [f"{w.order.number} 1 3", "Hana Ito", "Partial",
                                     "0 of 1 lines planned in full; 3 of 5 eaches"],
    "/admin/fulfilment/waiting": lambda w: [f"{w.order.number}", "SOAP-1 2 of 5 expected " + w.on],
    "/admin/fulfilment/runs": lambda w: [f"#{w.run.id}", "Succeeded 1 1 0 1 0 0%"],
    "/admin/fulfilment/stock": lambda w: [f"SOAP-1 {w.soap.name} 3 3 0 {w.on}"],
    "/admin/fulfilment/inventory": lambda w: [f"PO-77 Test {w.on} SOAP-1 {w.soap.name} 10 0",
                                              "No receipts yet."],
}


@pytest.mark.parametrize("url", PAGES)
def test_admins_see_every_fulfilment_page(admin, session, url):
    soap = product(session, 3, sku="SOAP-1")
    order = paid_order(session, destination(session, full_name="Hana Ito"), (soap, 5))
    on = company_today() + timedelta(days=4)
    expected(session, soap, 10, on, reference="PO-77")
    run = run_planning(session)
    world = SimpleNamespace(soap=soap, order=order, run=run, on=day(on))
    response = admin.get(url)
    assert response.status_code == 200
    page = visible_text(response)
    for shown in PAGE_CONTENT[url](world):
        assert shown in page


@pytest.mark.parametrize("maker", [make_user, make_ibo, None])
@pytest.mark.parametrize("url", PAGES)
def test_everyone_else_is_kept_out(client, session, maker, url):
    if maker:
        log_in(client, maker(session))
    response = client.get(url)
    if maker:
        assert response.status_code == 403
    else:  # anonymous: asked to log in first
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("maker", [make_user, make_ibo])
def test_members_cannot_plan_release_or_receive(client, session, maker):
    log_in(client, maker(session))
    token = csrf_token(client, "/shop/")
    for url in ("/admin/fulfilment/plan-now", "/admin/fulfilment/shipments/1/release",
                "/admin/fulfilment/inventory/receipts"):
        assert client.post(url, data={"csrf_token": token}).status_code == 403


def test_the_plan_shows_shipments_metrics_and_what_waits(admin, session):
    soap, tea = product(session, 4), product(session, 0)
    home = destination(session, full_name="Hana Ito")
    first = paid_order(session, home, (soap, 2))
    paid_order(session, home, (soap, 2), minutes=1)
    short = paid_order(session, destination(session), (soap, 1), (tea, 2), minutes=2)
    expected(session, tea, 5, company_today() + timedelta(days=6))
    run_planning(session, trigger="checkout ×3")

    page = text_of(admin.get("/admin/fulfilment/"))
    assert "Hana Ito" in page and first.number in page and "(2 siblings)" in page
    assert "Complete" in page and "checkout ×3" in page
    assert "0.50" in page  # one shipment for two orders
    assert "50%" in page   # line fill: two of four lines in full
    waiting = text_of(admin.get("/admin/fulfilment/waiting"))
    assert short.number in waiting and "expected " + day(company_today() + timedelta(days=6)) in waiting


def test_an_htmx_request_gets_the_table_alone(client, htmx, session):
    log_in(htmx, make_admin(session))
    response = htmx.get("/admin/fulfilment/?status=released")
    assert response.status_code == 200 and "<h1>" not in text_of(response)
    assert "HX-Request" in response.headers["Vary"]


def test_plan_now_asks_for_a_run(admin, redis):
    response = post(admin, "/admin/fulfilment/plan-now", {})
    assert response.status_code == 303
    assert "Planning requested." in text_of(admin.get(response.headers["Location"]))
    pending = redis.get(coordination.PENDING_KEY)
    assert coordination.take_requests(redis, pending.decode()) == {"admin": 1}


def test_releasing_and_shipping_through_the_plan_page(admin, session):
    soap = product(session, 4)
    order = paid_order(session, destination(session), (soap, 2))
    run_planning(session)
    shipment_id = session.scalar(select(Shipment.id))
    response = post(admin, f"/admin/fulfilment/shipments/{shipment_id}/release", {})
    assert response.status_code == 303
    assert "released to the warehouse" in text_of(admin.get(response.headers["Location"]))
    number = session.get(Shipment, shipment_id).number
    again = post(admin, f"/admin/fulfilment/shipments/{shipment_id}/release", {})
    assert again.status_code == 422 and f"Shipment {number} is already released." in text_of(again)
    unsaid = post(admin, f"/admin/fulfilment/shipments/{shipment_id}/ship", {})
    assert unsaid.status_code == 422 and "Enter the carrier." in text_of(unsaid)
    assert stock_of(session, soap) == (4, 2)
    shipped = post(admin, f"/admin/fulfilment/shipments/{shipment_id}/ship",
                   {"carrier": "ups", "numbers": "1Z 999 AA1 01 2345 6784",
                    "shipped_on": company_today().isoformat()})
    assert shipped.status_code == 303
    assert f"Shipment {number} marked as shipped with UPS" in text_of(admin.get(shipped.headers["Location"]))
    assert stock_of(session, soap) == (2, 0)
    page = visible_text(admin.get(f"/admin/fulfilment/shipments/{shipment_id}"))
    assert number in page and order.number in page and "Shipped" in page
    assert "with UPS" in page and "1Z999AA10123456784" in page


def test_a_stale_or_unknown_shipment_is_a_404(admin):
    response = post(admin, "/admin/fulfilment/shipments/424242/release", {})
    assert response.status_code == 404 and "newer planning run replaced it" in text_of(response)
    response = admin.get("/admin/fulfilment/shipments/424242")
    assert response.status_code == 404 and "newer planning run replaced it" in text_of(response)


def test_a_receipt_through_the_form(admin, session, redis):
    soap = product(session, 1)
    response = post(admin, "/admin/fulfilment/inventory/receipts",
                    {"sku": soap.sku.lower(), "eaches": "9", "note": "pallet"}, prefix="receipt")
    assert response.status_code == 303
    page = visible_text(admin.get(response.headers["Location"]))
    assert f"Received 9 eaches of {soap.sku}." in page
    assert f"{soap.sku} {soap.name} 9 — pallet" in page  # the latest receipts, on no purchase order
    assert stock_of(session, soap) == (10, 0)
    assert redis.get(coordination.PENDING_KEY) is not None


@pytest.mark.parametrize("data, message", [
    ({"sku": "", "eaches": "3"}, "Enter a SKU."),
    ({"sku": "X Y", "eaches": "3"}, "Letters, digits and dashes only."),
    ({"sku": "SKU-X", "eaches": "0"}, "1 to 1,000,000 eaches."),
    ({"sku": "SKU-X", "eaches": "lots"}, "Not a valid integer value."),
    ({"sku": "SKU-X", "eaches": "99999999999999999999"}, "1 to 1,000,000 eaches."),
    ({"sku": "NOPE-1", "eaches": "3"}, "No product has SKU"),
])
def test_a_bad_receipt_is_refused_beside_its_field(admin, session, data, message):
    product(session, 1, sku="SKU-X")
    response = post(admin, "/admin/fulfilment/inventory/receipts", data, prefix="receipt")
    assert response.status_code == 422 and message in text_of(response)
    assert session.scalar(select(func.count()).select_from(InventoryReceipt)) == 0


def test_expected_arrivals_head_each_column_with_its_own_name(admin, session):
    expected(session, product(session, 0), 10, company_today() + timedelta(days=4), reference="PO-77")
    page = text_of(admin.get(INVENTORY))
    arrivals = page[page.index('<div id="arrivals">'):]
    head = re.search(r"<thead>(.*?)</thead>", arrivals, re.S).group(1)
    headings = [" ".join(re.sub(r"<[^>]+>", " ", cell).split())
                for cell in re.findall(r"<th\b[^>]*>(.*?)</th>", head, re.S)]
    assert headings == ["Purchase order", "Supplier", "Due date", "SKU", "Product",
                        "Eaches expected", "Eaches received", "Receive"]


def test_an_expected_arrival_through_the_form(admin, session):
    soap = product(session, 0)
    on = company_today() + timedelta(days=8)
    data = {"reference": "PO-500", "supplier": "Acme", "sku": soap.sku, "eaches": "48",
            "expected_on": on.isoformat()}
    assert post(admin, "/admin/fulfilment/inventory/arrivals", data, prefix="arrival").status_code == 303
    assert session.scalar(select(PurchaseOrder.expected_on)) == on
    page = text_of(admin.get(INVENTORY))
    assert "PO-500" in page and day(on) in page
    moved = {**data, "expected_on": (on + timedelta(days=1)).isoformat()}
    response = post(admin, "/admin/fulfilment/inventory/arrivals", moved, prefix="arrival")
    assert response.status_code == 422 and "a different date needs a different reference" in text_of(response)
    response = post(admin, "/admin/fulfilment/inventory/arrivals", {**data, "expected_on": "soon"},
                    prefix="arrival")
    assert response.status_code == 422 and "Not a valid date value." in text_of(response)


@pytest.mark.parametrize("url, prefix, data, field, message", [
    ("/admin/fulfilment/inventory/receipts", "receipt", {"note": "pallet\x003"}, "note",
     "Remove the control characters from this field."),
    ("/admin/fulfilment/inventory/arrivals", "arrival", {"supplier": "Acme\x00"}, "supplier",
     "Remove the control characters from this field."),
    ("/admin/fulfilment/inventory/arrivals", "arrival", {"expected_on": "9999-12-31"}, "expected_on",
     "Enter a date between 1900 and 2199."),
])
def test_control_characters_and_far_dates_are_refused_beside_the_field(admin, session, url, prefix,
                                                                       data, field, message):
    # PostgreSQL cannot store a NUL at all: this was a 500.
    soap = product(session, 0)
    base = {"reference": "PO-501", "supplier": "Acme", "sku": soap.sku, "eaches": "48",
            "expected_on": (company_today() + timedelta(days=8)).isoformat(), "note": ""}
    response = post(admin, url, {**base, **data}, prefix=prefix)
    assert response.status_code == 422
    assert f'<small class="field-error" id="{prefix}-{field}-error">{message}</small>' in text_of(response)
    assert session.scalar(select(func.count()).select_from(InventoryReceipt)) == 0
    assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0


def test_receiving_a_purchase_order_line_from_the_list(admin, session):
    soap = product(session, 0)
    purchase_order = expected(session, soap, 12, company_today() + timedelta(days=2))
    line_id = purchase_order.lines[0].id
    url = f"/admin/fulfilment/inventory/arrivals/lines/{line_id}/receive"
    refused = post(admin, url, {"eaches": "-2"})
    assert refused.status_code == 422 and "Nothing received 1 to 1,000,000 eaches." in visible_text(refused)
    received = post(admin, url, {"eaches": "12"})
    assert received.status_code == 303
    page = visible_text(admin.get(received.headers["Location"]))
    assert f"Received 12 eaches of {soap.sku}." in page
    assert f"{soap.sku} {soap.name} 12 {purchase_order.reference}" in page  # the latest receipts
    assert stock_of(session, soap) == (12, 0)
    unknown = post(admin, "/admin/fulfilment/inventory/arrivals/lines/99999/receive", {"eaches": "1"})
    assert unknown.status_code == 404 and "No such purchase-order line." in text_of(unknown)


def upload(client, url: str, prefix: str, content: bytes, filename: str = "stock.csv"):
    return post(client, url, {"file": (io.BytesIO(content), filename)}, prefix=prefix,
                content_type="multipart/form-data")


def test_a_good_receipts_file_is_imported(admin, session):
    soap = product(session, 0)
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv",
                      f"sku,eaches\n{soap.sku},5\n{soap.sku},6\n".encode())
    assert response.status_code == 303
    assert "Imported 2 receipts." in text_of(admin.get(INVENTORY))
    assert stock_of(session, soap) == (11, 0)


@pytest.mark.parametrize("content, message", [
    (b"sku,eaches\nNOPE,5\nALSO-NOPE,x\n", "Line 3: eaches must be a whole number"),
    (b"", "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
    (b"A,1\n" * 6000, "at most 5,000 at a time"),
])
def test_a_bad_receipts_file_changes_nothing_and_says_why(admin, session, content, message):
    soap = product(session, 0)
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv", content)
    assert response.status_code == 422 and message in text_of(response)
    assert stock_of(session, soap) == (0, 0)
    assert session.scalar(select(func.count()).select_from(InventoryReceipt)) == 0


def test_receipts_may_not_take_stock_past_what_the_stock_form_allows(admin, session):
    kit = product(session, 1_199, sku="KIT-400")
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv",
                      b"sku,eaches\n" + b"KIT-400,1000000\n" * 15)
    page = text_of(response)
    assert response.status_code == 422
    assert "Nothing was imported: the file has 1 problem." in page
    assert ("Line 11: this row takes KIT-400 to 10,001,199 eaches on hand (1,199 before this "
            "file), past the 10,000,000 one product may hold; the file&#39;s rows for KIT-400 add "
            "15,000,000 in all, and at most 9,998,801 fit.") in page
    assert stock_of(session, kit) == (1_199, 0)
    assert session.scalar(select(func.count()).select_from(InventoryReceipt)) == 0


def test_a_file_whose_sum_overflows_a_database_integer_is_refused_not_a_500(admin, session):
    # 2,200 rows of a million: more than a 32-bit column holds (PostgreSQL answered 500).
    kit = product(session, 0, sku="KIT-400")
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv",
                      b"KIT-400,1000000\n" * 2_200)
    assert response.status_code == 422
    assert "Line 11: this row takes KIT-400 to 11,000,000 eaches on hand" in text_of(response)
    assert stock_of(session, kit) == (0, 0)


def test_a_receipt_through_the_form_stops_at_the_stock_ceiling(admin, session):
    kit = product(session, 9_999_999, sku="KIT-400")
    response = post(admin, "/admin/fulfilment/inventory/receipts", {"sku": "KIT-400", "eaches": "2"},
                    prefix="receipt")
    assert response.status_code == 422
    assert ("KIT-400 has 9,999,999 eaches on hand; 2 more would pass the 10,000,000 one product "
            "may hold.") in text_of(response)
    assert stock_of(session, kit) == (9_999_999, 0)
    assert post(admin, "/admin/fulfilment/inventory/receipts", {"sku": "KIT-400", "eaches": "1"},
                prefix="receipt").status_code == 303
    assert stock_of(session, kit) == (10_000_000, 0)


def test_arabic_indic_digits_are_not_eaches_in_a_file_either(admin, session):
    vitamin = product(session, 0, sku="VIT-001")
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv",
                      "VIT-001,\u0661\u0662\n".encode())
    assert response.status_code == 422
    assert "Line 1: eaches must be a whole number from 1 to 1,000,000" in text_of(response)
    assert stock_of(session, vitamin) == (0, 0)


def test_expected_arrivals_stop_at_the_stock_ceiling_per_purchase_order_line(admin, session):
    kit = product(session, 0, sku="KIT-400")
    later = (company_today() + timedelta(days=12)).isoformat()
    expected(session, kit, 2_000_000, company_today() + timedelta(days=12), reference="PO-BIG")
    response = upload(admin, "/admin/fulfilment/inventory/arrivals.csv", "arrivals_csv",
                      f"KIT-400,1000000,{later},PO-BIG\n".encode() * 2_200)
    assert response.status_code == 422
    assert ("Line 9: this row takes KIT-400 to 11,000,000 eaches expected on PO-BIG (2,000,000 "
            "before this file)") in text_of(response)
    data = {"reference": "PO-BIG", "supplier": "", "sku": "KIT-400", "eaches": "1000000",
            "expected_on": later}
    for _ in range(8):
        assert post(admin, "/admin/fulfilment/inventory/arrivals", data, prefix="arrival").status_code == 303
    response = post(admin, "/admin/fulfilment/inventory/arrivals", data, prefix="arrival")
    assert response.status_code == 422
    assert ("PO-BIG already expects 10,000,000 eaches of KIT-400; 1,000,000 more would pass the "
            "10,000,000 one product may hold.") in text_of(response)


def test_a_file_too_big_to_accept_is_a_413(admin, app):
    response = upload(admin, "/admin/fulfilment/inventory/receipts.csv", "receipts_csv",
                      b"A,1\n" * (app.config["MAX_CONTENT_LENGTH"] // 4 + 10))
    mebibytes = app.config["MAX_CONTENT_LENGTH"] // 2**20
    assert response.status_code == 413
    assert f"larger than the {mebibytes} MiB we accept." in visible_text(response)


def test_an_upload_without_a_file_is_refused(admin):
    response = post(admin, "/admin/fulfilment/inventory/arrivals.csv", {}, prefix="arrivals_csv",
                    content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in text_of(response)


def test_an_arrivals_file_is_imported_and_a_bad_one_reported_by_line(admin, session):
    soap = product(session, 0)
    later = (company_today() + timedelta(days=12)).isoformat()
    response = upload(admin, "/admin/fulfilment/inventory/arrivals.csv", "arrivals_csv",
                      f"{soap.sku},24,{later},PO-CSV\n".encode())
    assert response.status_code == 303
    page = visible_text(admin.get(response.headers["Location"]))
    assert "Imported 1 expected arrival." in page and "PO-CSV CSV upload" in page
    response = upload(admin, "/admin/fulfilment/inventory/arrivals.csv", "arrivals_csv",
                      f"{soap.sku},24,2001-01-01\n{soap.sku},1\n".encode())
    page = text_of(response)
    assert response.status_code == 422
    assert "Line 1: the expected date 2001-01-01 is in the past." in page
    assert "Line 2: the expected date is missing" in page
    assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


def test_a_post_without_its_csrf_token_is_refused(admin):
    response = admin.post("/admin/fulfilment/plan-now")
    assert response.status_code == 400
    assert "This form has expired or was not sent from this site." in text_of(response)


# --- members: how their order ships -----------------------------------------------------------

def outlook(client, order) -> str:
    page = text_of(client.get(f"/orders/{order.id}"))
    start = page.index("How it ships")
    return " ".join(page[start:page.index("</article>", start)].split())


def test_a_member_sees_their_order_ship_together_with_their_other_orders(client, session):
    member = make_user(session)
    home = destination(session, user=member)
    soap = product(session, 10)
    orders = [paid_order(session, home, (soap, 1), minutes=m) for m in range(3)]
    run_planning(session)
    log_in(client, member)
    assert "in one shipment together with 2 other orders to this address" in outlook(client, orders[0])


def test_a_member_sees_what_ships_now_and_when_the_rest_is_expected(client, session):
    member = make_user(session)
    soap, tea = product(session, 10), product(session, 0, name="Green Tea")
    later = company_today() + timedelta(days=5)
    expected(session, tea, 10, later)
    order = paid_order(session, destination(session, user=member), (soap, 2), (tea, 3))
    run_planning(session)
    log_in(client, member)
    text = outlook(client, order)
    assert "In two parts. 2 eaches ship now" in text
    assert f"the other 3 follow when stock arrives, expected {day(later)}" in text
    assert f"Green Tea: 3 eaches, expected {day(later)}" in text


def test_a_member_sees_an_order_wait_for_stock_with_or_without_a_date(client, session):
    member = make_user(session)
    tea = product(session, 0)
    order = paid_order(session, destination(session, user=member), (tea, 3))
    run_planning(session)
    log_in(client, member)
    assert "Waiting for stock; we do not have an arrival date yet" in outlook(client, order)


def test_a_new_order_is_being_planned_and_a_released_one_is_being_packed(client, session):
    member = make_user(session)
    soap = product(session, 10)
    home = destination(session, user=member)
    order = paid_order(session, home, (soap, 1))
    run_planning(session)
    shipment_id = session.scalar(select(Shipment.id))
    newer = paid_order(session, home, (soap, 1))
    newer.placed_at = utcnow()  # placed after the run began
    log_in(client, member)
    assert "We are planning its shipment" in outlook(client, newer)
    release_shipment(session, actor=None, shipment_id=shipment_id)
    assert "Complete, in one shipment; it is being packed." in outlook(client, order)


def test_no_outlook_once_an_order_has_shipped_or_was_cancelled(client, session):
    member = make_user(session)
    soap = product(session, 10)
    order = paid_order(session, destination(session, user=member), (soap, 1), status="cancelled")
    log_in(client, member)
    assert "How it ships" not in text_of(client.get(f"/orders/{order.id}"))
