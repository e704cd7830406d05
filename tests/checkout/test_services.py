from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.clock import company_today
from portal.cart.services import add_to_cart, cart_lines
from portal.checkout.services import CheckoutError, check_out
from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import PaymentDeclined, SandboxGateway
from portal.payments.services import CardUnusable
from tests.factories import make_address, make_card, make_product, make_user
from tests.races import run_together

SHIPPING = ShippingRule(flat_fee=Decimal("5.95"), free_from=Decimal("100.00"))


@pytest.fixture
def shopper(session, redis):
    member = make_user(session)
    address = make_address(session, member, moniker="Home")
    card = make_card(session, member, redis)
    product = make_product(session, each_price=Decimal("10.00"), each_pv=Decimal("8.00"))
    add_to_cart(session, user=member, product_id=product.id, unit_code="case", quantity=2, max_quantity=999)
    add_to_cart(session, user=member, product_id=product.id, unit_code="each", quantity=3, max_quantity=999)
    session.commit()
    return member, address, card, product


def place(session, redis, member, address, card, key="key-0123456789abcdef"):
    return check_out(session, user=member, address_id=address.id, card_id=card.id,
                     idempotency_key=key, gateway=SandboxGateway(redis), shipping=SHIPPING,
                     today=company_today())


def test_checkout_creates_a_paid_order_with_lines_totals_and_volume(session, redis, shopper):
    member, address, card, _ = shopper
    order = place(session, redis, member, address, card)
    session.commit()
    assert order.status == "paid" and order.charge_id.startswith("ch_")
    assert [(l.unit_code, l.quantity, l.eaches) for l in order.lines] == [("case", 2, 24), ("each", 3, 3)]
    assert order.subtotal == Decimal("250.00")  # 2 cases at 110 + 3 at 10
    assert order.shipping_fee == Decimal("0.00") and order.total == Decimal("250.00")
    assert order.pv_total == Decimal("216.00")  # (12*8)*2 + 8*3
    assert order.ship_moniker == "Home" and order.payment_label == "Visa ending 4242"
    assert cart_lines(session, member) == []
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_repeated_submission_returns_the_first_order_and_charges_once(session, redis, shopper):
    member, address, card, _ = shopper
    first = place(session, redis, member, address, card)
    session.commit()
    again = place(session, redis, member, address, card)
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1


def test_a_declined_card_keeps_no_order_and_leaves_the_cart(session, redis, shopper):
    member, address, _, _ = shopper
    declining = make_card(session, member, redis, number="4000000000000002")
    session.commit()
    with pytest.raises(PaymentDeclined, match="declined"):
        place(session, redis, member, address, declining)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Order)) == 0
    assert len(cart_lines(session, member)) == 2


def test_an_expired_card_is_refused_before_charging(session, redis, shopper):
    member, address, card, _ = shopper
    card.exp_year, card.exp_month = 2020, 1
    with pytest.raises(CardUnusable, match="expired"):
        place(session, redis, member, address, card)


def test_an_empty_cart_cannot_be_checked_out(session, redis):
    member = make_user(session)
    address, card = make_address(session, member), make_card(session, member, redis)
    with pytest.raises(CheckoutError, match="empty"):
        place(session, redis, member, address, card)


def test_someone_elses_address_or_card_is_not_found(session, redis, shopper):
    member, address, card, _ = shopper
    stranger = make_user(session)
    their_address, their_card = make_address(session, stranger), make_card(session, stranger, redis)
    from portal.errors import NotFound
    with pytest.raises(NotFound):
        place(session, redis, member, their_address, card)
    with pytest.raises(NotFound):
        place(session, redis, member, address, their_card)


def test_another_persons_idempotency_key_is_refused(session, redis, shopper):
    member, address, card, product = shopper
    place(session, redis, member, address, card, key="shared-key-0123456789")
    session.commit()
    other = make_user(session)
    other_address, other_card = make_address(session, other), make_card(session, other, redis)
    add_to_cart(session, user=other, product_id=product.id, unit_code="each", quantity=1, max_quantity=999)
    with pytest.raises(CheckoutError):
        place(session, redis, other, other_address, other_card, key="shared-key-0123456789")


@pytest.mark.server
def test_concurrent_identical_submissions_create_one_order(app, session, redis, shopper):
    member, address, card, _ = shopper
    ids = (member.id, address.id, card.id)
    session.close()  # hold no transaction (no locks) while the threads run

    def submit(_):
        from portal.accounts.models import User
        person = db.session.get(User, ids[0])
        return check_out(db.session, user=person, address_id=ids[1], card_id=ids[2],
                         idempotency_key="same-form-0123456789", gateway=SandboxGateway(redis),
                         shipping=SHIPPING, today=company_today()).id

    results, errors = run_together(app, 6, submit)
    session.expire_all()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 6
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert len(list(redis.scan_iter("sandbox-gateway:charge:*"))) == 1
