"""Refunds over HTTP: the admin's form, its confirmation with the amounts, one refund per form,
a gateway that does not answer, refusals beside their fields, and the member's order page."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.orders.models import Refund
from portal.payments.gateway import SandboxGateway
from tests.conftest import log_in, page_text
from tests.factories import make_admin, make_paid_order, make_product, make_support, make_user

KEY_PATTERN = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def world(session, redis):
    member = make_user(session, first_name="Rhea", last_name="Refund")
    product = make_product(session, name="Refund Tea", each_price=Decimal("10.00"),
                           each_pv=Decimal("8.00"))
    order = make_paid_order(session, member, redis, product, quantity=3)  # $30 + $5.95 shipping
    admin = make_admin(session)
    session.commit()
    return member, order, admin


def the_form(client, order) -> tuple[str, str, str]:
    """The order page, the form's key and CSRF token."""
    page = client.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    return page, KEY_PATTERN.search(page).group(1), csrf


def send(client, order, csrf, **fields):
    return client.post(f"/admin/orders/{order.id}/refunds", data={"csrf_token": csrf, **fields})


def count_refunds(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Refund))


def test_the_admin_sees_the_form_confirms_the_amounts_and_refunds_once(client, session, redis, world):
    member, order, admin = world
    log_in(client, admin)
    page, key, csrf = the_form(client, order)
    assert "Quantity of Refund Tea to refund" in page and "3 of 3" in page
    form = {"key": key, "mode": "lines", f"quantity_{order.lines[0].id}": "2", "reason": "Two bags torn"}

    asked = send(client, order, csrf, **form)
    text = page_text(asked.get_data(as_text=True))
    assert asked.status_code == 200 and count_refunds(session) == 0  # nothing yet
    assert "Refund $20.00 on order" in text and "2 × Refund Tea (each): $20.00, 16.00 PV" in text
    assert "Reason: Two bags torn" in text

    done = send(client, order, csrf, confirm="yes", **form)
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/orders/{order.id}"
    again = send(client, order, csrf, confirm="yes", **form)  # the double click
    assert again.status_code == 303
    assert count_refunds(session) == 1
    assert len(list(redis.scan_iter(SandboxGateway.KEY_PREFIX + "refund:*"))) == 1
    after = page_text(client.get(f"/admin/orders/{order.id}").get_data(as_text=True))
    assert "Partly refunded" in after and "Two bags torn" in after and "1 of 3" in after
    assert f"by {admin.full_name}" in after


def test_the_member_sees_the_refund_on_their_order_page(client, session, redis, world):
    member, order, admin = world
    log_in(client, admin)
    _, key, csrf = the_form(client, order)
    send(client, order, csrf, confirm="yes", key=key, mode="everything", reason="Out of stock")
    client.post("/logout", data={"csrf_token": csrf})
    member_client = client.application.test_client()
    log_in(member_client, member)
    text = page_text(member_client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert "Refunded" in text and "Out of stock" in text and "$35.95" in text
    assert "Quantity of" not in text and "Try again" not in text  # no admin controls


def test_over_refunding_is_refused_with_the_reason_and_a_fresh_form(client, session, redis, world):
    member, order, admin = world
    log_in(client, admin)
    _, key, csrf = the_form(client, order)
    line = f"quantity_{order.lines[0].id}"
    send(client, order, csrf, confirm="yes", key=key, mode="lines", **{line: "3"}, reason="Lost")
    _, second_key, _ = the_form(client, order)
    refused = send(client, order, csrf, confirm="yes", key=second_key, mode="lines", **{line: "1"},
                   reason="Lost")
    # The page no longer offers the line: a stale form (another admin's tab) is told why.
    assert refused.status_code == 409
    assert "only 0 of 3 left to refund (3 already refunded)" in page_text(refused.get_data(as_text=True))
    assert count_refunds(session) == 1


@pytest.mark.parametrize("fields, status, message", [
    ({"quantity": "abc"}, 422, "A quantity from 0 to 3 (left to refund)."),
    ({"quantity": "4"}, 422, "A quantity from 0 to 3 (left to refund)."),
    ({"quantity": "-1"}, 422, "A quantity from 0 to 3 (left to refund)."),
    ({"quantity": "١"}, 422, "A quantity from 0 to 3 (left to refund)."),
    ({"quantity": "1", "reason": ""}, 422, "Say why this is refunded"),
    ({"quantity": "1", "reason": "bad\x00reason"}, 422, "Remove the control characters"),
    ({"quantity": "0"}, 409, "Choose what to refund"),
    ({"quantity": "1", "key": "short"}, 409, "This refund form is not valid"),
])
def test_bad_input_is_refused_beside_its_field_and_refunds_nothing(client, session, redis, world, fields,
                                                                   status, message):
    member, order, admin = world
    log_in(client, admin)
    _, key, csrf = the_form(client, order)
    form = {"key": fields.get("key", key), "mode": "lines", "reason": fields.get("reason", "Why"),
            f"quantity_{order.lines[0].id}": fields["quantity"]}
    response = send(client, order, csrf, confirm="yes", **form)
    assert response.status_code == status
    assert message in page_text(response.get_data(as_text=True))
    assert count_refunds(session) == 0


def test_a_gateway_timeout_is_told_and_try_again_refunds_once(client, session, redis, world):
    member, order, admin = world
    log_in(client, admin)
    _, key, csrf = the_form(client, order)
    SandboxGateway(redis).simulate_refund_timeouts("after")
    timed_out = send(client, order, csrf, confirm="yes", key=key, mode="everything", reason="Damaged")
    assert timed_out.status_code == 504
    assert "kept as waiting" in page_text(timed_out.get_data(as_text=True))
    page = page_text(client.get(f"/admin/orders/{order.id}").get_data(as_text=True))
    assert "Waiting for the gateway" in page and "Everything charged on this order has been refunded" in page
    refund_id = session.scalar(select(Refund.id))
    retried = client.post(f"/admin/orders/{order.id}/refunds/{refund_id}/retry", data={"csrf_token": csrf})
    assert retried.status_code == 303
    session.expire_all()
    assert session.get(Refund, refund_id).status == "succeeded"
    assert len(list(redis.scan_iter(SandboxGateway.KEY_PREFIX + "refund:*"))) == 1


def test_a_refund_of_another_order_s_refund_is_not_found(client, session, redis, world):
    member, order, admin = world
    other = make_paid_order(session, make_user(session), redis)
    session.commit()
    log_in(client, admin)
    _, key, csrf = the_form(client, order)
    SandboxGateway(redis).simulate_refund_timeouts("before")
    send(client, order, csrf, confirm="yes", key=key, mode="everything", reason="Damaged")
    refund_id = session.scalar(select(Refund.id))
    assert client.post(f"/admin/orders/{other.id}/refunds/{refund_id}/retry",
                       data={"csrf_token": csrf}).status_code == 404


def test_the_order_lists_say_which_orders_were_refunded(client, session, redis, world):
    member, order, admin = world
    log_in(client, admin)
    assert "Refunded" not in page_text(client.get("/admin/orders").get_data(as_text=True))
    _, key, csrf = the_form(client, order)
    send(client, order, csrf, confirm="yes", key=key, mode="lines",
         **{f"quantity_{order.lines[0].id}": "1"}, reason="One torn")
    assert "Paid Partly refunded" in page_text(client.get("/admin/orders").get_data(as_text=True))
    member_client = client.application.test_client()
    log_in(member_client, member)
    assert "Paid Partly refunded" in page_text(member_client.get("/orders/").get_data(as_text=True))


def test_support_refunds_up_to_its_limit_and_no_more(app, client, session, redis, world):
    member, order, admin = world
    support = make_support(session)
    session.commit()
    app.config["SUPPORT_REFUND_LIMIT"] = "25.00"
    log_in(client, support)
    _, key, csrf = the_form(client, order)
    refused = send(client, order, csrf, confirm="yes", key=key, mode="everything", reason="Out of stock")
    assert refused.status_code in (403, 409, 422) and count_refunds(session) == 0  # $35.95 is over $25
    _, key, csrf = the_form(client, order)
    done = send(client, order, csrf, confirm="yes", key=key, mode="lines",
                **{f"quantity_{order.lines[0].id}": "2"}, reason="Two bags torn")
    assert done.status_code == 303 and count_refunds(session) == 1
    refund = session.scalars(select(Refund)).one()
    assert refund.amount == Decimal("20.00") and refund.actor_id == support.id
