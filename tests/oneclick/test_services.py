"""1-Click services on real backends: identifiers, placing exactly once, combining, splitting
by ship date, cancelling within the window, finalising without charging twice."""

from datetime import timedelta
from types import SimpleNamespace
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from portal.catalog.services import OrderingError
from portal.errors import NotFound
from portal.extensions import db
from portal.fulfilment.receiving import add_expected_arrival, receive_purchase_order_line
from portal.mail.models import OutboxMessage
from portal.oneclick.identifiers import hash_token, new_token
from portal.user_agents import describe_user_agent
from portal.oneclick.models import ClientIdentifier, OneClickRequest, OneClickSetting
from portal.oneclick.queries import buyers_on_client, devices_of, due_for_finalisation
from portal.oneclick.errors import (ClientNotRecognised, ClientRevoked, IdempotencyKeyReused,
                                    OneClickError, OneClickOff, StoredDetailsUnusable,
                                    TooManyOrders, WindowClosed)
from portal.oneclick.finalising import charge_closed_order, close_window
from portal.oneclick.settings import disable_everywhere, disable_here, enable_from_order
from portal.oneclick.window import cancel_oneclick_line, cancel_oneclick_order, cancel_oneclick_press
from portal.oneclick.press import expected_ship_date, place_oneclick_order, place_press
from portal.addresses.services import remove_address
from portal.orders.models import Order, OrderLine, OrderStatusChange
from portal.orders.states import OrderStatus
from portal.payments.gateway import Charge, SandboxGateway
from portal.payments.services import CardUnusable, remove_card
from tests.factories import make_address, make_card, make_product, make_user
from tests.oneclick.conftest import NOW, RULES, TODAY, enable, make_shopper, place
from tests.races import run_behind, run_behind_on_connection, run_together


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def line_of(session, key: str) -> int:
    """The order line a press added."""
    return session.scalar(select(OneClickRequest.order_line_id)
                          .where(OneClickRequest.idempotency_key == key))


# --- Identifiers and settings -------------------------------------------------------------------

def test_only_the_hash_of_the_token_is_stored(session, shopper):
    client = session.scalar(select(ClientIdentifier))
    assert client.token_hash == hash_token(shopper.token) and len(client.token_hash) == 64
    assert shopper.token not in client.token_hash
    assert client.label == "Firefox on Linux" and client.created_at == NOW
    assert len(shopper.token) >= 43  # 256 random bits, url-safe


@pytest.mark.parametrize("agent, label", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1", "Chrome on iOS"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0", "Edge on Windows"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36", "Chrome on Android"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36", "Chrome on Linux"),
    ("curl/8.5.0", "Unknown browser"), ("", "Unknown browser"), (None, "Unknown browser"),
])
def test_a_readable_label_names_browser_and_system(agent, label):
    assert describe_user_agent(agent) == label


def test_turning_on_again_changes_the_setting_rather_than_adding_one(session, redis, shopper):
    office = make_address(session, shopper.user, moniker="Office")
    enable(session, shopper.user, shopper.token, office, shopper.card, keyboard_shortcut=True)
    setting = session.scalar(select(OneClickSetting))
    assert count(session, OneClickSetting) == 1 and count(session, ClientIdentifier) == 1
    assert setting.address_id == office.id and setting.keyboard_shortcut and not setting.voice_action


def test_someone_elses_address_or_an_expired_card_cannot_be_chosen(session, redis, shopper):
    stranger = make_user(session)
    with pytest.raises(NotFound):
        enable(session, shopper.user, shopper.token, make_address(session, stranger), shopper.card)
    expired = make_card(session, shopper.user, redis)
    expired.exp_year, expired.exp_month = 2020, 1
    with pytest.raises(CardUnusable, match="expired"):
        enable(session, shopper.user, shopper.token, shopper.address, expired)


def test_admins_cannot_turn_on_one_click(session, redis):
    from tests.factories import make_admin
    admin = make_admin(session)
    address, card = make_address(session, admin), make_card(session, admin, redis)
    with pytest.raises(Exception, match="Only members and IBOs"):
        enable(session, admin, new_token(), address, card)


def test_details_come_from_an_earlier_order(session, redis, shopper):
    """Turned on from an order: that order's address and card, nothing entered again."""
    other = make_user(session)
    other_address, other_card = make_address(session, other, moniker="Cabin"), make_card(session, other, redis)
    confirmation, _ = place(session, shopper)
    order = session.get(Order, confirmation.order_id)
    order.user_id, order.address_id, order.payment_method_id = other.id, other_address.id, other_card.id
    token = new_token()
    setting = enable_from_order(session, user=other, order_id=order.id, token_hash=hash_token(token),
                                label="Safari on iOS", today=TODAY, now=NOW)
    assert (setting.address_id, setting.payment_method_id) == (other_address.id, other_card.id)
    with pytest.raises(NotFound):  # nobody copies details from another person's order
        enable_from_order(session, user=shopper.user, order_id=order.id,
                          token_hash=shopper.token_hash, label="x", today=TODAY, now=NOW)


def test_one_browser_carries_several_people_and_one_person_several_browsers(session, redis, shopper):
    """The item page lists everyone on this browser, each with details to verify."""
    partner = make_shopper(session, redis, token=shopper.token, first_name="Lee", last_name="Park")
    second_browser = new_token()
    enable(session, shopper.user, second_browser, shopper.address, shopper.card)
    buyers = buyers_on_client(session, shopper.token_hash, TODAY)
    assert {b.name for b in buyers} == {"Dana D.", "Lee P."}
    assert {b.masked_address for b in buyers} == {"...Springfield 627**"}
    assert {b.card_label for b in buyers} == {"Visa ending 4242"}
    assert len(devices_of(session, shopper.user)) == 2
    assert place(session, shopper, "key-partner-000000001", person=partner.user)[0].person == "Lee P."
    assert place(session, shopper, "key-dana-0000000000001", token=second_browser)[0].person == "Dana D."


def test_an_identifier_serves_different_people_over_time(session, redis, shopper):
    """While someone still uses the browser it keeps its identifier."""
    partner = make_shopper(session, redis, token=shopper.token, first_name="Lee")
    assert disable_here(session, user=shopper.user, token_hash=shopper.token_hash, now=NOW)
    with pytest.raises(OneClickOff):
        place(session, shopper, "key-after-off-000000001")
    confirmation, _ = place(session, shopper, "key-partner-000000002", person=partner.user)
    assert confirmation.person.startswith("Lee")
    assert session.scalar(select(ClientIdentifier.revoked_at)) is None


def test_turning_off_the_last_person_revokes_the_identifier_for_good(session, redis, shopper):
    disable_here(session, user=shopper.user, token_hash=shopper.token_hash, now=NOW)
    assert session.scalar(select(ClientIdentifier.revoked_at)) == NOW
    with pytest.raises(ClientNotRecognised):
        place(session, shopper)
    with pytest.raises(ClientRevoked):  # the web layer gives the browser a new token instead
        enable(session, shopper.user, shopper.token, shopper.address, shopper.card)
    assert buyers_on_client(session, shopper.token_hash, TODAY) == []


def test_turning_off_everywhere(session, redis, shopper):
    laptop, phone = new_token(), new_token()
    for token in (laptop, phone):
        enable(session, shopper.user, token, shopper.address, shopper.card)
    assert disable_everywhere(session, user=shopper.user, now=NOW) == 3
    assert devices_of(session, shopper.user) == []
    for token in (shopper.token, laptop, phone):
        with pytest.raises(ClientNotRecognised):
            place(session, shopper, f"key-{token[:20]}", token=token)


# --- Placing an order ---------------------------------------------------------------------------

def test_one_action_places_an_open_order_with_the_stored_details(session, shopper):
    confirmation, repeat = place(session, shopper, unit="case", quantity=2)
    session.commit()
    order = session.get(Order, confirmation.order_id)
    assert not repeat and order.status == "open" and order.source == "oneclick"
    assert order.combine_until == NOW + timedelta(minutes=90) and order.expected_ship_date == TODAY
    assert (order.address_id, order.payment_method_id) == (shopper.address.id, shopper.card.id)
    assert [(l.unit_code, l.quantity, l.eaches) for l in order.lines] == [("case", 2, 24)]
    assert order.total == Decimal("220.00") and order.charge_id is None
    assert (confirmation.product_name, confirmation.unit_label, confirmation.quantity) == ("Green Tea", "Case of 12", 2)
    assert confirmation.ship_masked == "...Springfield 627**" and confirmation.card_label == "Visa ending 4242"
    assert confirmation.person == "Dana D." and not confirmation.combined
    assert confirmation.window_closes == NOW + timedelta(minutes=90)
    request = session.scalar(select(OneClickRequest))
    assert (request.user_id, request.unit_code, request.quantity, request.order_id) == (
        shopper.user.id, "case", 2, order.id)
    client = session.scalar(select(ClientIdentifier))
    assert client.last_used_at == NOW


def test_a_repeat_gets_the_first_answer_and_no_second_order(session, redis, shopper):
    first, _ = place(session, shopper)
    session.commit()
    again, repeat = place(session, shopper)
    assert repeat and again == first
    assert count(session, Order) == 1 and count(session, OrderLine) == 1
    assert count(session, OneClickRequest) == 1


def test_a_press_takes_a_few_statements_whatever_the_size_of_the_order(session, redis, shopper):
    """The hot path: one query for the setting, the person's lock, the hourly count, an earlier
    press with the key and the product; one for the open orders (locked); then one statement
    per row written. Nothing is loaded per line of the order."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    rules = type(RULES)(**{**RULES.__dict__, "max_per_hour": 100})
    shopper = ids_of(shopper)  # plain ids: nothing for the test itself to load
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        place(session, shopper, "key-size-000000000000", rules=rules)  # a new order
        opened = len(statements)
        for n in range(1, 31):
            statements.clear()
            place(session, shopper, f"key-size-0000000000{n:02d}", rules=rules)  # combined into it
        combined = len(statements)
        statements.clear()
        place(session, shopper, "key-size-000000000030", rules=rules)  # a repeat
        repeated = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # A new order: 2 queries and 4 inserts (order, history, line, request), and the browser's
    # last use, written at most once a minute (2 updates); an added line: 2 queries, the
    # order's totals and 2 inserts (line, request); a repeat: the first query answers it.
    assert (opened, combined, repeated) == (6 + 2, 5, 1)
    assert session.scalar(select(func.count()).select_from(OrderLine)) == 31


def test_the_history_says_how_the_order_was_placed(session, redis, shopper):
    confirmation, _ = place(session, shopper)
    [change] = session.scalars(select(OrderStatusChange).where(
        OrderStatusChange.order_id == confirmation.order_id)).all()
    assert change.to_status == OrderStatus.OPEN and change.from_status is None
    assert change.note == "placed by oneclick, open for additions" and change.changed_at == NOW


def test_a_reused_key_with_another_item_is_refused(session, redis, shopper):
    place(session, shopper)
    session.commit()
    other = make_product(session)
    for changed in ({"product": other}, {"quantity": 2}, {"unit": "case"}):
        with pytest.raises(IdempotencyKeyReused) as refused:
            place(session, shopper, **changed)
        assert refused.value.status == 422
    partner = make_shopper(session, redis, token=shopper.token)
    with pytest.raises(IdempotencyKeyReused):
        place(session, shopper, person=partner.user)
    assert count(session, OrderLine) == 1


@pytest.mark.server
def test_a_key_taken_meanwhile_by_someone_else_is_a_reuse_and_nothing_is_kept(app, session, redis, shopper):
    """The race the person's lock cannot see: another person's press on this browser holds the
    key, not yet committed, when ours first reads. Ours waits for it, and once it commits the
    unique key refuses ours: a reuse, and nothing of ours is kept."""
    partner = make_shopper(session, redis, token=shopper.token)
    session.commit()
    plain = ids_of(shopper)
    place(session, shopper, "key-contested-00000001", person=partner.user)  # not committed

    outcome = run_behind(app, session, lambda other: place(other, plain, "key-contested-00000001"))

    assert isinstance(outcome, IdempotencyKeyReused), outcome
    assert count(session, OrderLine) == 1 and count(session, OneClickRequest) == 1
    assert session.scalar(select(OneClickRequest.user_id)) == partner.user.id


@pytest.mark.server
def test_a_twin_that_committed_the_key_meanwhile_gets_its_answer(app, session, shopper):
    """A double click: the second press waits for the person's lock that the first holds, and
    PostgreSQL reads the other tables as of before that wait, so the second does not see the
    first's request. The unique key finds it once the first commits, and its answer is given."""
    plain = ids_of(shopper)
    first, _ = place(session, shopper, "key-twin-000000000001")  # not committed

    outcome = run_behind(app, session, lambda other: place(other, plain, "key-twin-000000000001"))

    assert outcome == (first, True)
    assert count(session, Order) == 1 and count(session, OrderLine) == 1
    assert count(session, OneClickRequest) == 1


@pytest.mark.server
def test_on_a_connection_a_twin_gets_its_answer_and_a_reuse_keeps_nothing(app, session, redis, shopper):
    """The same races for a press on a Core connection (``place_press``): its transaction is
    rolled back before the first answer is read."""
    partner = make_shopper(session, redis, token=shopper.token)
    session.commit()
    plain = ids_of(shopper)

    def press_with(key):
        return lambda connection: place_press(
            connection, token_hash=hash_token(plain.token), person_id=plain.user.id,
            product_id=plain.product.id, unit_code="each", quantity=1, idempotency_key=key,
            rules=RULES, now=NOW, today=TODAY)

    first, _ = place(session, shopper, "key-twin-on-connection-1")  # not committed
    assert run_behind_on_connection(app, session, press_with("key-twin-on-connection-1")) == (first, True)
    place(session, shopper, "key-taken-on-connection-1", person=partner.user)  # not committed
    outcome = run_behind_on_connection(app, session, press_with("key-taken-on-connection-1"))
    assert isinstance(outcome, IdempotencyKeyReused), outcome
    assert count(session, OrderLine) == 2 and count(session, OneClickRequest) == 2


@pytest.mark.parametrize("key", ["", "short", "x" * 81, "has space here 12345", "ünïcödé-ünïcödé-ü", None])
def test_a_malformed_key_is_refused(session, shopper, key):
    with pytest.raises(OneClickError):
        place(session, shopper, key)


def test_orders_close_together_are_combined(session, redis, shopper):
    """Same person, address, card and ship date within the window: one order."""
    tea = shopper.product
    soap = make_product(session, name="Soap", each_price=Decimal("95.00"))
    first, _ = place(session, shopper, "key-first-000000000001")
    second, _ = place(session, shopper, "key-second-00000000001", product=soap,
                      now=NOW + timedelta(minutes=89))
    assert second.order_id == first.order_id and second.combined and second.lines_in_order == 2
    order = session.get(Order, first.order_id)
    assert [l.product_id for l in order.lines] == [tea.id, soap.id]
    assert order.subtotal == Decimal("105.00") and order.shipping_fee == Decimal("0.00")
    assert order.total == Decimal("105.00") and order.pv_total == Decimal("16.00")
    assert order.combine_until == NOW + timedelta(minutes=90)  # the window does not move


def test_every_order_and_answer_is_totalled_by_the_rule_book(session, redis, shopper):
    """A free sample ships free; the fee applies below the free-shipping line and not from it
    on; the answer tells the order's total as recorded."""
    sample = make_product(session, name="Sample", each_price=Decimal("0.00"))
    almost = make_product(session, name="Almost", each_price=Decimal("89.99"))
    steps = [(sample, "0.00", "0.00"), (almost, "89.99", "5.95"), (shopper.product, "99.99", "5.95"),
             (sample, "99.99", "5.95"), (shopper.product, "109.99", "0.00")]
    for n, (product, subtotal, fee) in enumerate(steps):
        answer, _ = place(session, shopper, f"key-rule-book-{n:08d}", product=product,
                          now=NOW + timedelta(minutes=n))
        order = session.get(Order, answer.order_id)
        assert (order.subtotal, order.shipping_fee) == (Decimal(subtotal), Decimal(fee))
        assert order.total == RULES.shipping.fee(order.subtotal) + order.subtotal
        assert Decimal(answer.order_total) == order.total
        assert answer.lines_in_order == n + 1 == len(order.lines)
    assert count(session, Order) == 1


def test_after_the_window_or_to_another_address_a_new_order_opens(session, redis, shopper):
    first, _ = place(session, shopper, "key-first-000000000001")
    late, _ = place(session, shopper, "key-late-0000000000001", now=NOW + timedelta(minutes=90))
    assert late.order_id != first.order_id and not late.combined
    office = make_address(session, shopper.user, moniker="Office")
    enable(session, shopper.user, shopper.token, office, shopper.card)
    elsewhere, _ = place(session, shopper, "key-office-00000000001")
    assert elsewhere.order_id not in (first.order_id, late.order_id)
    other_card = make_card(session, shopper.user, redis, number="5555555555554444")
    enable(session, shopper.user, shopper.token, office, other_card)
    assert place(session, shopper, "key-card-0000000000001")[0].order_id != elsewhere.order_id


def expect_arrival(session, product, on, eaches=100, reference=None):
    """A purchase order bringing ``eaches`` of ``product`` on ``on``."""
    return add_expected_arrival(session, actor=None, reference=reference or f"PO-{product.sku}-{on}",
                                supplier="Acme", expected_on=on, sku=product.sku, eaches=eaches,
                                today=TODAY)


def test_items_shipping_on_other_dates_are_separate_orders_each_told(session, redis, shopper):
    """In stock now, expected on a known arrival, and expected with no arrival known
    are three ship dates, so three orders; each answer says its date and the others."""
    scarce = make_product(session, name="Rare Tea", on_hand=5)
    awaited = make_product(session, name="Matcha", on_hand=0)
    expect_arrival(session, awaited, TODAY + timedelta(days=6))
    now_order, _ = place(session, shopper, "key-instock-0000000001")
    assert now_order.ship_date == TODAY and now_order.ships_from_stock
    assert now_order.ship_date_basis == "stock" and now_order.split_from == []
    arriving, _ = place(session, shopper, "key-arrival-0000000001", product=awaited, quantity=2)
    assert arriving.order_id != now_order.order_id and not arriving.combined
    assert arriving.ship_date == TODAY + timedelta(days=6) and arriving.ships_on_arrival
    assert not arriving.ships_from_stock
    assert arriving.split_from == [(now_order.order_number, TODAY)]
    unknown, _ = place(session, shopper, "key-later-00000000001", product=scarce, quantity=6)
    assert unknown.ship_date == TODAY + timedelta(days=14) and unknown.ship_date_basis == "lead time"
    assert unknown.split_from == [(now_order.order_number, TODAY),
                                  (arriving.order_number, TODAY + timedelta(days=6))]
    more_now, _ = place(session, shopper, "key-instock-0000000002", product=scarce, quantity=5)
    assert more_now.order_id == now_order.order_id  # 5 are in stock: ships today, combined
    same_day, _ = place(session, shopper, "key-arrival-0000000002", product=awaited)
    assert same_day.order_id == arriving.order_id and same_day.combined
    orders = session.scalars(select(Order).order_by(Order.id)).all()
    assert [(o.expected_ship_date, len(o.lines)) for o in orders] == [
        (TODAY, 2), (TODAY + timedelta(days=6), 2), (TODAY + timedelta(days=14), 1)]


def test_expected_ship_date_from_stock_else_the_next_arrival_else_the_lead_time(session, redis):
    product, other = make_product(session, on_hand=10), make_product(session, on_hand=0)

    def ships(eaches, available=10, **rules):
        return expected_ship_date(session, product_id=product.id, available=available,
                                  eaches=eaches, today=TODAY, **rules)

    assert ships(10) == (TODAY, "stock")
    assert ships(11) == (TODAY + timedelta(days=14), "lead time")  # no arrival known
    assert ships(11, backorder_days=3) == (TODAY + timedelta(days=3), "lead time")
    expect_arrival(session, other, TODAY + timedelta(days=2))  # another product's
    assert ships(11).basis == "lead time"
    late = expect_arrival(session, product, TODAY + timedelta(days=20))
    soon = expect_arrival(session, product, TODAY + timedelta(days=5), eaches=4)
    assert ships(11) == (TODAY + timedelta(days=5), "arrival")  # the next one
    receive_purchase_order_line(session, actor=None, line_id=soon.lines[0].id, eaches=3)
    assert ships(11).day == TODAY + timedelta(days=5)  # one each still to come
    receive_purchase_order_line(session, actor=None, line_id=soon.lines[0].id, eaches=1)
    assert ships(11) == (TODAY + timedelta(days=20), "arrival")  # that one has arrived
    expect_arrival(session, product, TODAY)
    assert ships(11) == (TODAY + timedelta(days=1), "arrival")  # due today, not in yet
    assert late.lines[0].eaches_received == 0


def test_allocated_stock_is_not_available_to_ship_now(session, redis, shopper):
    shopper.product.stock.on_hand, shopper.product.stock.allocated = 10, 8
    expect_arrival(session, shopper.product, TODAY + timedelta(days=4))
    confirmation, _ = place(session, shopper, quantity=3)
    assert confirmation.ship_date == TODAY + timedelta(days=4) and confirmation.ships_on_arrival


def test_unknown_or_missing_identifiers_are_refused(session, redis, shopper):
    with pytest.raises(ClientNotRecognised) as refused:
        place(session, shopper, token=new_token())
    assert refused.value.status == 403
    with pytest.raises(ClientNotRecognised):
        place_oneclick_order(session, token_hash=None, person_id=shopper.user.id,
                             product_id=shopper.product.id, unit_code="each", quantity=1,
                             idempotency_key="key-no-cookie-0000001", rules=RULES, now=NOW,
                             today=TODAY)
    assert count(session, Order) == 0


def test_a_person_not_on_this_browser_is_refused(session, redis, shopper):
    """A forged person id, 1-Click off, or an account that was closed."""
    stranger = make_shopper(session, redis)  # 1-Click on, but in another browser
    with pytest.raises(OneClickOff) as refused:
        place(session, shopper, person=stranger.user)
    assert refused.value.status == 403
    shopper.user.active = False
    with pytest.raises(OneClickOff):
        place(session, shopper)
    assert count(session, Order) == 0


def test_a_removed_address_or_card_or_an_expired_card_is_refused(session, redis, shopper):
    remove_address(session, user=shopper.user, address_id=shopper.address.id)
    with pytest.raises(StoredDetailsUnusable, match="address"):
        place(session, shopper)
    session.rollback()
    remove_card(session, user=shopper.user, card_id=shopper.card.id)
    with pytest.raises(StoredDetailsUnusable, match="card"):
        place(session, shopper)
    session.rollback()
    shopper.card.exp_year, shopper.card.exp_month = TODAY.year, TODAY.month - 1
    with pytest.raises(StoredDetailsUnusable, match="expired"):
        place(session, shopper)
    assert buyers_on_client(session, shopper.token_hash, TODAY)[0].problem.startswith("The 1-Click card")
    assert count(session, Order) == 0


def test_products_units_and_quantities_are_checked(session, shopper):
    withdrawn = make_product(session)
    withdrawn.active = False
    single = make_product(session, case_size=None, lot_size=None)
    with pytest.raises(OrderingError, match="no longer available"):
        place(session, shopper, product=withdrawn)
    with pytest.raises(OrderingError, match="not sold by the case"):
        place(session, shopper, product=single, unit="case")
    for quantity in (0, -1, 1000):
        with pytest.raises(OrderingError):
            place(session, shopper, quantity=quantity)
    with pytest.raises(NotFound):
        place(session, shopper, product=SimpleNamespace(id=999_999))
    assert count(session, Order) == 0


def test_a_browser_may_place_only_so_many_orders_an_hour(session, shopper):
    rules = type(RULES)(**{**RULES.__dict__, "max_per_hour": 3})
    for n in range(3):
        place(session, shopper, f"key-capped-00000000{n:02d}", rules=rules, now=NOW + timedelta(minutes=n))
    with pytest.raises(TooManyOrders) as refused:
        place(session, shopper, "key-capped-0000000099", rules=rules, now=NOW + timedelta(minutes=5))
    assert refused.value.status == 429
    later, _ = place(session, shopper, "key-capped-0000000100", rules=rules,
                     now=NOW + timedelta(minutes=61))
    assert later.order_id


# --- Cancelling while the window is open --------------------------------------------------------

def test_single_lines_and_whole_orders_can_be_cancelled_within_the_window(session, redis, shopper):
    first, _ = place(session, shopper, "key-first-000000000001", quantity=3)
    second, _ = place(session, shopper, "key-second-00000000001", unit="case")
    first_line, second_line = line_of(session, "key-first-000000000001"), line_of(session, "key-second-00000000001")
    order = cancel_oneclick_line(session, owner_id=shopper.user.id, order_id=first.order_id,
                                 line_id=first_line, rules=RULES, now=NOW + timedelta(minutes=10))
    assert [l.id for l in order.lines] == [second_line] and order.total == Decimal("110.00")
    assert order.status == "open" and "removed 3 x Green Tea" in order.history[-1].note
    request = session.scalar(select(OneClickRequest).where(OneClickRequest.idempotency_key == "key-first-000000000001"))
    assert request.cancelled_at == NOW + timedelta(minutes=10)
    press = session.scalar(select(OneClickRequest).where(OneClickRequest.idempotency_key == "key-second-00000000001"))
    order = cancel_oneclick_press(session, press=press, rules=RULES, now=NOW + timedelta(minutes=11))
    assert order.status == "cancelled" and len(order.lines) == 1  # the last line stays as history
    third, _ = place(session, shopper, "key-third-000000000001", now=NOW + timedelta(minutes=12))
    assert third.order_id != first.order_id  # a cancelled order takes no more lines
    cancelled = cancel_oneclick_order(session, owner_id=shopper.user.id, order_id=third.order_id,
                                      now=NOW + timedelta(minutes=13))
    assert cancelled.status == "cancelled" and cancelled.history[-1].note == "cancelled by the person"


def test_nothing_changes_after_the_window_or_for_someone_else(session, redis, shopper):
    placed, _ = place(session, shopper)
    with pytest.raises(WindowClosed):
        cancel_oneclick_order(session, owner_id=shopper.user.id, order_id=placed.order_id,
                              now=NOW + timedelta(minutes=90))
    with pytest.raises(NotFound):
        cancel_oneclick_line(session, owner_id=make_user(session).id, order_id=placed.order_id,
                             line_id=line_of(session, "key-aaaaaaaaaaaaaaaa"), rules=RULES, now=NOW)
    with pytest.raises(NotFound):
        cancel_oneclick_line(session, owner_id=shopper.user.id, order_id=placed.order_id,
                             line_id=line_of(session, "key-aaaaaaaaaaaaaaaa") + 1000, rules=RULES, now=NOW)
    assert session.get(Order, placed.order_id).status == "open"


# --- Finalising ---------------------------------------------------------------------------------

def finalise(session, order_id, gateway, now=NOW + timedelta(minutes=91)):
    first = close_window(session, order_id=order_id, now=now, today=TODAY)
    session.commit()
    second = charge_closed_order(session, order_id=order_id, gateway=gateway)
    session.commit()
    return first, second


def test_a_closed_window_is_charged_once_and_released(session, redis, shopper):
    placed, _ = place(session, shopper, quantity=2)
    session.commit()
    gateway = SandboxGateway(redis)
    assert close_window(session, order_id=placed.order_id, now=NOW + timedelta(minutes=89),
                        today=TODAY) == "window still open"
    assert due_for_finalisation(session, NOW + timedelta(minutes=89)) == []
    assert due_for_finalisation(session, NOW + timedelta(minutes=90)) == [placed.order_id]
    assert finalise(session, placed.order_id, gateway) == ("closed", "paid")
    order = session.get(Order, placed.order_id)
    assert order.status == "paid" and order.charge_id.startswith("ch_")
    assert [c.to_status for c in order.history] == ["open", "pending_payment", "paid"]
    charge = gateway.charges_for(f"oneclick-order:{order.id}")
    assert charge.status == "succeeded" and Decimal(charge.amount) == Decimal("25.95")
    mail = session.scalar(select(OutboxMessage))
    assert "confirmed" in mail.subject and "Ships to Home" in mail.body
    assert finalise(session, placed.order_id, gateway) == ("nothing to do", "nothing to do")
    assert due_for_finalisation(session, NOW + timedelta(days=1)) == []


def test_a_crash_between_charge_and_commit_never_charges_twice(session, redis, shopper):
    """The worker charged, then died before committing: the re-run finds the same charge."""
    placed, _ = place(session, shopper)
    session.commit()
    gateway = SandboxGateway(redis)
    close_window(session, order_id=placed.order_id, now=NOW + timedelta(minutes=91), today=TODAY)
    session.commit()

    class CrashAfterCharging:
        name = "sandbox"

        def charge(self, *args, **kwargs) -> Charge:
            gateway.charge(*args, **kwargs)
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        charge_closed_order(session, order_id=placed.order_id, gateway=CrashAfterCharging())
    session.rollback()
    first_charge = gateway.charges_for(f"oneclick-order:{placed.order_id}")
    assert session.get(Order, placed.order_id).status == "pending_payment"
    assert due_for_finalisation(session, NOW) == [placed.order_id]  # not lost
    assert finalise(session, placed.order_id, gateway)[1] == "paid"
    order = session.get(Order, placed.order_id)
    assert order.charge_id == first_charge.id
    assert len(list(redis.scan_iter("sandbox-gateway:charge:oneclick-order:*"))) == 1


def test_a_declined_card_fails_the_order_and_tells_the_person(session, redis, shopper):
    declining = make_card(session, shopper.user, redis, number="4000000000000002")
    enable(session, shopper.user, shopper.token, shopper.address, declining)
    placed, _ = place(session, shopper)
    session.commit()
    assert finalise(session, placed.order_id, SandboxGateway(redis)) == ("closed", "payment_failed")
    order = session.get(Order, placed.order_id)
    assert order.status == "payment_failed" and order.charge_id is None
    assert "payment failed" in session.scalar(select(OutboxMessage.subject))


def test_a_card_removed_before_the_window_closed_fails_without_charging(session, redis, shopper):
    placed, _ = place(session, shopper)
    remove_card(session, user=shopper.user, card_id=shopper.card.id)
    session.commit()
    assert finalise(session, placed.order_id, SandboxGateway(redis))[0] == "payment_failed"
    assert list(redis.scan_iter("sandbox-gateway:charge:*")) == []


# --- Under concurrency --------------------------------------------------------------------------

def ids_of(shopper):
    return SimpleNamespace(user=SimpleNamespace(id=shopper.user.id), token=shopper.token,
                           product=SimpleNamespace(id=shopper.product.id))


@pytest.mark.server
def test_concurrent_identical_requests_make_one_line(app, session, shopper):
    plain = ids_of(shopper)
    session.close()  # hold no transaction (no row locks) while the threads run

    def work(n):
        confirmation, _ = place(db.session, plain, "key-same-button-00001")
        return confirmation.order_id, confirmation.to_json()

    results, errors = run_together(app, 12, work)
    assert errors == [] and len(results) == 12 and len(set(results)) == 1
    assert count(session, Order) == 1 and count(session, OrderLine) == 1


@pytest.mark.server
def test_concurrent_different_presses_combine_into_one_open_order(app, session, shopper):
    """Two tabs, each with its own button: both items, still one order."""
    plain = ids_of(shopper)
    session.close()

    def work(n):
        return place(db.session, plain, f"key-tab-{n:016d}", now=NOW + timedelta(seconds=n))[0].order_id

    results, errors = run_together(app, 8, work)
    assert errors == [] and len(set(results)) == 1
    assert count(session, Order) == 1 and count(session, OrderLine) == 8
    assert session.scalar(select(Order.total)) == Decimal("80.00") + Decimal("5.95")


@pytest.mark.server
def test_an_order_cancelled_while_a_press_waits_for_it_gets_no_line_a_new_order_does(
        app, session, shopper):
    """The person cancels their open order in one tab while a press in another waits for that
    order's lock: once the cancel commits, the press sees the order as it is now and opens a
    new order rather than adding to a cancelled one."""
    first, _ = place(session, shopper, "key-before-cancel-001")
    session.commit()
    plain = ids_of(shopper)
    cancel_oneclick_order(session, owner_id=plain.user.id, order_id=first.order_id,
                          now=NOW + timedelta(minutes=1))  # holds the order's lock until commit

    confirmation = run_behind(app, session, lambda other: place(
        other, plain, "key-during-cancel-01", now=NOW + timedelta(minutes=2))[0])

    assert not isinstance(confirmation, Exception), confirmation
    assert confirmation.order_id != first.order_id and not confirmation.combined
    assert confirmation.lines_in_order == 1 and confirmation.other_open_orders == []
    cancelled, opened = session.get(Order, first.order_id), session.get(Order, confirmation.order_id)
    assert cancelled.status == "cancelled" and len(cancelled.lines) == 1
    assert opened.status == "open" and len(opened.lines) == 1
