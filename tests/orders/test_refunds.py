"""Refunds: in full or by line and quantity, through the gateway once per key, with restock,
volume leaving with ``order_refunded``, the member told, and two admins at once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.catalog.models import StockLevel
from portal.clock import company_today
from portal.errors import Forbidden
from portal.cart.services import add_to_cart
from portal.checkout.services import check_out
from portal.fulfilment.models import Shipment, ShipmentPick
from portal.fulfilment.planning import run_planning
from portal.fulfilment.shipments import release_shipment
from portal.mail.models import OutboxMessage
from portal.orders.models import Order, Refund, RefundStatus
from portal.orders.pricing import ShippingRule
from portal.orders.refund_amounts import RefundRequest, lines_left, shipping_left
from portal.orders.refunds import (RefundError, RefundPending, refund_order, refund_text,
                                   retry_refund, start_refund)
from portal.orders.signals import order_refunded
from portal.payments.gateway import SandboxGateway
from tests.factories import make_address, make_admin, make_card, make_product, make_user
from tests.fulfilment.builders import ship
from tests.races import run_behind

SHIPPING = ShippingRule(flat_fee=Decimal("5.95"), free_from=Decimal("100.00"))
KEYS = iter(f"refund-form-key-{n:04d}" for n in range(10_000))


def place_order(session, redis, *items, product=None):
    """A paid checkout order of ``items`` ((unit, quantity) pairs) of one product."""
    member = make_user(session)
    product = product or make_product(session, each_price=Decimal("10.00"), each_pv=Decimal("8.00"),
                                      each_bv=Decimal("6.00"), case_price=Decimal("110.00"))
    for unit, quantity in items:
        add_to_cart(session, user=member, product_id=product.id, unit_code=unit,
                    quantity=quantity, max_quantity=999)
    order = check_out(session, user=member, address_id=make_address(session, member).id,
                      card_id=make_card(session, member, redis).id,
                      idempotency_key=f"checkout-{next(KEYS)}", gateway=SandboxGateway(redis),
                      shipping=SHIPPING, today=company_today())
    session.commit()
    return order


@pytest.fixture
def admin(session):
    return make_admin(session)


@pytest.fixture
def announced():
    """What ``order_refunded`` announced during the test."""
    heard = []

    def listen(order, **keywords):
        heard.append({"order_id": order.id, **{k: v for k, v in keywords.items() if k != "session"}})
    order_refunded.connect(listen)
    yield heard
    order_refunded.disconnect(listen)


def refund(session, redis, admin, order, *, key=None, lines=None, everything=False, restock=False,
           reason="Damaged in transit", limit=None):
    return refund_order(session, SandboxGateway(redis), actor=admin, order_id=order.id,
                        idempotency_key=key or next(KEYS),
                        request=RefundRequest(lines or {}, everything=everything),
                        restock=restock, reason=reason, limit=limit)


def gateway_refunds(redis) -> int:
    return len(list(redis.scan_iter(SandboxGateway.KEY_PREFIX + "refund:*")))


def refund_mails(session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.subject.like("Refund%"))))


# --- In full, by line --------------------------------------------------------------------------

def test_a_full_refund_gives_back_everything_charged_shipping_included(session, redis, admin, announced):
    order = place_order(session, redis, ("each", 3))  # $30.00 + $5.95 shipping
    made = refund(session, redis, admin, order, everything=True)
    session.commit()
    assert (made.status, made.amount, made.shipping_amount) == ("succeeded", Decimal("35.95"), Decimal("5.95"))
    assert made.gateway_refund_id.startswith("re_")
    order = session.get(Order, order.id)
    assert order.status == "paid" and order.refund_label == "Refunded"  # the state is where the goods are
    assert [entry.left for entry in lines_left(order)] == [0] and shipping_left(order) == 0
    assert announced == [{"order_id": order.id, "refund_id": made.id, "amount": Decimal("35.95"),
                          "pv": Decimal("24.00"), "bv": Decimal("18.00"), "at": made.finished_at}]
    assert gateway_refunds(redis) == 1


def test_a_refund_by_line_and_quantity_gives_back_that_part_and_its_volume(session, redis, admin, announced):
    order = place_order(session, redis, ("case", 2), ("each", 3))  # 2 x $110 + 3 x $10, free shipping
    case_line, each_line = order.lines
    made = refund(session, redis, admin, order, lines={case_line.id: 1, each_line.id: 2})
    session.commit()
    assert (made.amount, made.shipping_amount, made.pv, made.bv) == (
        Decimal("130.00"), Decimal("0.00"), Decimal("112.00"), Decimal("84.00"))  # 96 + 16 PV
    assert [(line.quantity, line.eaches, line.amount) for line in made.lines] == [
        (1, 12, Decimal("110.00")), (2, 2, Decimal("20.00"))]
    order = session.get(Order, order.id)
    assert order.refund_label == "Partly refunded"
    assert [(entry.left, entry.refunded) for entry in lines_left(order)] == [(1, 1), (1, 2)]
    assert [a["pv"] for a in announced] == [Decimal("112.00")]


def test_refunding_a_line_piece_by_piece_gives_back_exactly_its_volume(session, redis, admin, announced):
    product = make_product(session, each_price=Decimal("3.33"), each_pv=Decimal("3.33"),
                           each_bv=Decimal("1.11"))
    order = place_order(session, redis, ("each", 3), product=product)
    line = order.lines[0]
    line.pv, line.bv = Decimal("10.00"), Decimal("3.34")  # a volume that does not split evenly
    session.commit()
    for _ in range(3):
        refund(session, redis, admin, order, lines={line.id: 1})
        session.commit()
    assert [a["pv"] for a in announced] == [Decimal("3.33"), Decimal("3.33"), Decimal("3.34")]
    assert sum(a["bv"] for a in announced) == Decimal("3.34")


def test_shipping_goes_back_only_with_a_full_refund_and_only_once(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    line = order.lines[0]
    by_line = refund(session, redis, admin, order, lines={line.id: 3})
    session.commit()
    assert by_line.shipping_amount == 0 and session.get(Order, order.id).refund_label == "Partly refunded"
    rest = refund(session, redis, admin, order, everything=True)
    session.commit()
    assert (rest.amount, rest.shipping_amount, rest.lines) == (Decimal("5.95"), Decimal("5.95"), [])
    assert session.get(Order, order.id).refund_label == "Refunded"
    with pytest.raises(RefundError, match="refunded already"):
        refund(session, redis, admin, order, everything=True)


# --- Refused -----------------------------------------------------------------------------------

def test_refunding_more_than_is_left_of_a_line_is_refused_and_changes_nothing(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    line = order.lines[0]
    refund(session, redis, admin, order, lines={line.id: 2})
    session.commit()
    with pytest.raises(RefundError, match=r"only 1 of 3 left to refund \(2 already refunded\)"):
        refund(session, redis, admin, order, lines={line.id: 2})
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Refund)) == 1
    assert gateway_refunds(redis) == 1


@pytest.mark.parametrize("lines, message", [
    ({}, "Choose what to refund"),
    ({999_999: 1}, "not on this order"),
])
def test_a_refund_of_nothing_or_of_another_order_s_line_is_refused(session, redis, admin, lines, message):
    order = place_order(session, redis, ("each", 1))
    with pytest.raises(RefundError, match=message):
        refund(session, redis, admin, order, lines=lines)


def test_an_order_nobody_paid_for_cannot_be_refunded(session, redis, admin):
    order = place_order(session, redis, ("each", 1))
    order.status, order.paid_at, order.charge_id = "pending_payment", None, None
    session.commit()
    with pytest.raises(RefundError, match="nothing was charged"):
        refund(session, redis, admin, order, everything=True)


def test_a_refund_above_the_actor_s_limit_is_forbidden(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    with pytest.raises(Forbidden, match=r"up to \$20.00 at once; this refund is \$35.95"):
        refund(session, redis, admin, order, everything=True, limit=Decimal("20.00"))
    assert refund(session, redis, admin, order, lines={order.lines[0].id: 2},
                  limit=Decimal("20.00")).amount == Decimal("20.00")


@pytest.mark.parametrize("reason, message", [("   ", "Say why"), ("x" * 201, "under 200")])
def test_a_refund_needs_a_reason_the_member_can_read(session, redis, admin, reason, message):
    order = place_order(session, redis, ("each", 1))
    with pytest.raises(RefundError, match=message):
        refund(session, redis, admin, order, everything=True, reason=reason)


def test_the_gateway_never_refunds_more_than_the_charge(session, redis):
    order = place_order(session, redis, ("each", 3))
    gateway = SandboxGateway(redis)
    gateway.refund(order.charge_id, Decimal("30.00"), "USD", idempotency_key="a")
    with pytest.raises(Exception, match=r"5.95 of 35.95 USD is left"):
        gateway.refund(order.charge_id, Decimal("6.00"), "USD", idempotency_key="b")
    assert gateway.refund(order.charge_id, Decimal("30.00"), "USD", idempotency_key="a") == \
        gateway.refunds_for("a")  # the same key: the same refund, nothing more
    with pytest.raises(Exception, match="already made with other details"):
        gateway.refund(order.charge_id, Decimal("1.00"), "USD", idempotency_key="a")
    with pytest.raises(Exception, match="no such charge"):
        gateway.refund("ch_unknown", Decimal("1.00"), "USD", idempotency_key="c")


# --- Exactly once ------------------------------------------------------------------------------

def test_the_same_form_sent_twice_refunds_once(session, redis, admin, announced):
    order = place_order(session, redis, ("each", 3))
    first = refund(session, redis, admin, order, key="double-click-key-0001", lines={order.lines[0].id: 1})
    session.commit()
    again = refund(session, redis, admin, order, key="double-click-key-0001", lines={order.lines[0].id: 1})
    session.commit()
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Refund)) == 1
    assert gateway_refunds(redis) == 1 and len(announced) == 1 and len(refund_mails(session)) == 1


def test_the_same_key_with_another_request_is_refused(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    refund(session, redis, admin, order, key="double-click-key-0002", lines={order.lines[0].id: 1})
    session.commit()
    with pytest.raises(RefundError, match="already made refund RF"):
        refund(session, redis, admin, order, key="double-click-key-0002", lines={order.lines[0].id: 2})


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_refund_the_gateway_did_not_answer_is_kept_and_retried_with_its_key_once(
        session, redis, admin, announced, when):
    """The gateway times out, before refunding or after (the money went back, the answer was
    lost): the refund waits, holding its quantities; sending it again refunds once."""
    order = place_order(session, redis, ("each", 3))
    SandboxGateway(redis).simulate_refund_timeouts(when)
    with pytest.raises(RefundPending, match="kept as waiting"):
        refund(session, redis, admin, order, key="timeout-form-key-0001", everything=True)
    session.rollback()  # the edge rolls back a refusal; the pending refund was committed before
    pending = session.scalar(select(Refund))
    assert pending.status == RefundStatus.PENDING and announced == []
    assert gateway_refunds(redis) == (1 if when == "after" else 0)
    with pytest.raises(RefundError, match="refunded already"):  # its quantities are held
        refund(session, redis, admin, order, everything=True)
    session.rollback()

    done = retry_refund(session, SandboxGateway(redis), order_id=order.id, refund_id=pending.id)
    session.commit()
    assert done.status == RefundStatus.SUCCEEDED
    assert gateway_refunds(redis) == 1 and len(announced) == 1 and len(refund_mails(session)) == 1
    assert redis.get(SandboxGateway.KEY_PREFIX + f"refunded:{order.charge_id}") == b"3595"
    # The same form sent again (the admin's retry) answers with the same refund.
    assert refund(session, redis, admin, order, key="timeout-form-key-0001", everything=True).id == done.id
    assert gateway_refunds(redis) == 1 and len(announced) == 1


def test_a_refund_the_gateway_refuses_frees_its_quantities(session, redis, admin, announced):
    order = place_order(session, redis, ("each", 3))
    redis.set(SandboxGateway.KEY_PREFIX + f"refunded:{order.charge_id}", 3595)  # refunded elsewhere
    with pytest.raises(RefundError, match="refused refund RF.*more than was charged"):
        refund(session, redis, admin, order, everything=True)
    session.rollback()
    refused = session.scalar(select(Refund))
    assert refused.status == RefundStatus.FAILED and announced == []
    assert [entry.left for entry in lines_left(session.get(Order, order.id))] == [3]


def test_two_admins_refunding_the_same_line_at_once_one_wins_and_the_other_is_told(app, session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    order_id, line_id = order.id, order.lines[0].id
    other_admin = make_admin(session)
    session.commit()
    other_admin_id = other_admin.id
    # The first admin holds the order's row lock with a pending refund of two of the three.
    start_refund(session, actor=admin, order_id=order_id, idempotency_key="first-admin-key-0001",
                 request=RefundRequest({line_id: 2}), restock=False, reason="Damaged")

    def second_admin(other):
        from portal.accounts.models import User
        return start_refund(other, actor=other.get(User, other_admin_id), order_id=order_id,
                            idempotency_key="second-admin-key-0001", request=RefundRequest({line_id: 2}),
                            restock=False, reason="Damaged")

    answer = run_behind(app, session, second_admin)
    assert isinstance(answer, RefundError)
    assert "only 1 of 3 left to refund (2 already refunded)" in answer.message
    assert session.scalars(select(Refund.idempotency_key)).all() == ["first-admin-key-0001"]


# --- Stock, planning, the member ---------------------------------------------------------------

def shipped(session, order):
    run_planning(session)
    for shipment in session.scalars(select(Shipment).order_by(Shipment.id)):
        release_shipment(session, actor=None, shipment_id=shipment.id)
        ship(session, shipment.id)
    session.commit()
    return session.get(Order, order.id)


def on_hand(session, product_id) -> int:
    session.expire_all()
    return session.get(StockLevel, product_id).on_hand


def test_restocking_a_shipped_line_puts_its_eaches_back_on_hand(session, redis, admin):
    order = shipped(session, place_order(session, redis, ("case", 2)))
    product_id = order.lines[0].product_id
    before = on_hand(session, product_id)
    made = refund(session, redis, admin, order, lines={order.lines[0].id: 1}, restock=True)
    session.commit()
    assert made.lines[0].restocked_eaches == 12 and on_hand(session, product_id) == before + 12
    refund(session, redis, admin, order, lines={order.lines[0].id: 1}, restock=False)
    session.commit()
    assert on_hand(session, product_id) == before + 12  # without restock the stock stays


def test_eaches_refunded_before_they_ship_are_left_out_of_the_plan_and_never_restocked(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    product_id = order.lines[0].product_id
    before = on_hand(session, product_id)
    made = refund(session, redis, admin, order, lines={order.lines[0].id: 2}, restock=True)
    session.commit()
    assert made.lines[0].restocked_eaches == 0 and on_hand(session, product_id) == before
    run_planning(session)
    assert session.scalar(select(func.sum(ShipmentPick.eaches)).where(ShipmentPick.order_id == order.id)) == 1
    order = shipped(session, order)
    assert order.status == "shipped"  # the one each left is the whole shipment


def test_a_paid_order_refunded_in_full_has_nothing_left_to_ship(session, redis, admin):
    order = place_order(session, redis, ("each", 3))
    refund(session, redis, admin, order, everything=True)
    session.commit()
    run_planning(session)
    assert session.scalar(select(func.count()).select_from(ShipmentPick)) == 0


def test_the_member_is_told_what_went_back_where_and_why(session, redis, admin):
    order = place_order(session, redis, ("case", 1), ("each", 2))
    made = refund(session, redis, admin, order, lines={order.lines[0].id: 1}, reason="Case arrived crushed")
    session.commit()
    [mail] = refund_mails(session)
    assert mail.user_id == order.user_id
    assert mail.subject == f"Refund of $110.00 for order {order.number}"
    assert "We have refunded $110.00 for your order" in mail.body
    assert "to your Visa ending 4242" in mail.body
    assert "1 × Product" in mail.body and "$110.00" in mail.body
    assert "Reason: Case arrived crushed" in mail.body
    assert "Volume taken off the order: 96.00 PV" in mail.body
    text = refund_text(session.get(Order, order.id), made, "https://portal.example.com")
    assert f"https://portal.example.com/orders/{order.id}" in text


def planning_requests(redis) -> dict:
    from portal.fulfilment.coordination import REQUESTS_KEY
    return {k.decode(): int(v) for k, v in redis.hgetall(REQUESTS_KEY).items()}


def test_a_refund_asks_for_a_plan_when_what_ships_or_what_is_on_hand_changes(session, redis, admin):
    paid = place_order(session, redis, ("each", 3))
    refund(session, redis, admin, paid, lines={paid.lines[0].id: 1})
    session.commit()
    assert planning_requests(redis).get("refund") == 1  # one each fewer to ship

    gone = shipped(session, place_order(session, redis, ("each", 3)))
    refund(session, redis, admin, gone, lines={gone.lines[0].id: 1}, restock=False)
    session.commit()
    assert planning_requests(redis).get("refund") == 1  # nothing ships or comes back: no new plan
    refund(session, redis, admin, gone, lines={gone.lines[0].id: 1}, restock=True)
    session.commit()
    assert planning_requests(redis).get("refund") == 2  # one each back on hand
