"""One-time lines ("add to my next autoship"): added in one press to the soonest standing order
still open for changes (or the one chosen), exactly once per button, listed apart, removable
until the cutoff, shipped once with the next order (engine or Ship now) and never again."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.autoship import engine, one_time, queries, shipping_now
from portal.autoship.engine import EngineRules
from portal.autoship.models import AutoshipEvent, AutoshipOneTimeLine, AutoshipProfile, PricePolicy
from portal.autoship.one_time import Added, KeyReused, ShipmentChoice, add_to_next_shipment
from portal.autoship.profiles import AutoshipError
from portal.catalog.services import set_product_active
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import SandboxGateway
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_product, make_user
from tests.races import run_behind, run_together

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
ENGINE = EngineRules(shipping=SHIPPING, chunk_size=2)
FIRST = date(2026, 12, 15)  # TODAY is November 22: open for changes until December 13
KEY = "key-one-time-0000000001"


@pytest.fixture
def tea(session):
    return make_product(session, name="Green Tea", each_price=Decimal("7.90"), each_pv=Decimal("6.00"),
                        case_size=6, case_price=Decimal("45.00"))


def press(session, person, product, key=KEY, *, unit="each", quantity=1, profile=None, today=TODAY):
    return add_to_next_shipment(session, user=person, product_id=product.id, unit_code=unit,
                                quantity=quantity, idempotency_key=key, today=today, rules=RULES,
                                shipping=SHIPPING, profile_id=profile.id if profile else None)


def lines(session, **where):
    query = select(AutoshipOneTimeLine).order_by(AutoshipOneTimeLine.id)
    for name, value in where.items():
        query = query.where(getattr(AutoshipOneTimeLine, name) == value)
    return session.scalars(query).all()


def run(session, as_of):
    result = engine.run_in_process(session, as_of=as_of, trigger="test", rules=ENGINE)
    session.expire_all()
    return result


def events(session, profile, action):
    return session.scalars(select(AutoshipEvent.details).where(
        AutoshipEvent.profile_id == profile.id, AutoshipEvent.action == action)).all()


# ---------------------------------------------------------------- pressing

def test_one_press_adds_a_one_time_line_to_the_only_open_standing_order(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)  # 2 x $10.00

    added = press(session, member, tea, quantity=2)

    assert isinstance(added, Added) and not added.repeat
    line = added.line
    assert (line.profile_id, line.product_id, line.unit_code, line.quantity, line.run_date, line.status) == (
        profile.id, tea.id, "each", 2, FIRST, "pending")
    shipment = added.shipment
    assert (shipment.totals.subtotal, shipment.totals.shipping, shipment.totals.total, shipment.totals.pv) == (
        Decimal("35.80"), Decimal("5.95"), Decimal("41.75"), Decimal("28.00"))
    assert shipment.short_of_free == Decimal("64.20")
    assert events(session, profile, "one-time item added") == [
        f"2 × {tea.sku} (each) for the shipment of December 15 only"]
    # The recurring items are untouched: the line is not one of them, and not in the cycle PV.
    assert [(i.product_id, i.quantity) for i in profile.items] == [(product.id, 2)]
    assert profile.cycle_pv == Decimal("16.00")


def test_the_answer_says_when_shipping_becomes_free(session, member, product, tea):
    new_profile(session, member, product, first=FIRST)
    added = press(session, member, tea, unit="case", quantity=2)  # $20 + $90
    assert (added.shipment.totals.shipping, added.shipment.short_of_free) == (Decimal("0.00"), Decimal("0.00"))


def test_several_open_standing_orders_ask_which_soonest_first(session, member, product, tea):
    later = new_profile(session, member, product, first=FIRST + timedelta(days=5))
    sooner = new_profile(session, member, product, first=FIRST)

    choice = press(session, member, tea)

    assert isinstance(choice, ShipmentChoice)
    assert [p.id for p in choice.profiles] == [sooner.id, later.id] and choice.product.id == tea.id
    assert lines(session) == []
    added = press(session, member, tea, profile=later)
    assert added.line.profile_id == later.id and added.line.run_date == FIRST + timedelta(days=5)


def test_standing_orders_closed_for_changes_paused_or_cancelled_are_not_offered(session, member, product, tea):
    closed = new_profile(session, member, product, first=FIRST)
    paused = new_profile(session, member, product, first=FIRST)
    paused.status, paused.paused_until = "paused", None
    open_one = new_profile(session, member, product, first=FIRST + timedelta(days=10))
    on_cutoff = FIRST - timedelta(days=1)  # FIRST is one day away: closed (cutoff two days)

    assert [p.id for p in one_time.shipment_choices(session, member, on_cutoff, RULES)] == [open_one.id]
    assert press(session, member, tea, today=on_cutoff).line.profile_id == open_one.id
    with pytest.raises(AutoshipError, match="being prepared"):
        press(session, member, tea, "key-one-time-closed-01", profile=closed, today=on_cutoff)
    with pytest.raises(AutoshipError, match="no shipment coming"):
        press(session, member, tea, "key-one-time-paused-01", profile=paused)


def test_nothing_open_is_refused_with_the_reason(session, member, product, tea):
    with pytest.raises(AutoshipError, match="None of your standing orders is open"):
        press(session, member, tea)


def test_another_persons_standing_order_is_not_found(session, member, product, tea):
    theirs = new_profile(session, member, product, first=FIRST)
    stranger = make_user(session)
    with pytest.raises(NotFound):
        press(session, stranger, tea, profile=theirs)
    assert lines(session) == []


@pytest.mark.parametrize("unit, quantity, message", [
    ("lot", 1, "not sold by the lot"), ("each", 0, "at least 1"), ("each", 1000, "At most 999")])
def test_what_cannot_be_ordered_is_refused(session, member, product, unit, quantity, message):
    tea = make_product(session, name="Tea", lot_size=None)
    new_profile(session, member, product, first=FIRST)
    with pytest.raises(DomainError, match=message):
        press(session, member, tea, unit=unit, quantity=quantity)
    assert lines(session) == []


def test_a_withdrawn_product_is_refused(session, member, product, tea):
    new_profile(session, member, product, first=FIRST)
    set_product_active(session, tea.id, False)
    with pytest.raises(DomainError, match="no longer available"):
        press(session, member, tea)


@pytest.mark.parametrize("key", ["", "short", "has spaces in it 0000", "x" * 81, None])
def test_a_button_without_a_valid_key_adds_nothing(session, member, product, tea, key):
    new_profile(session, member, product, first=FIRST)
    with pytest.raises(AutoshipError, match="not valid"):
        press(session, member, tea, key)


def test_a_locked_standing_order_keeps_the_price_of_the_press(session, member, product, tea):
    new_profile(session, member, product, first=FIRST, price_policy=PricePolicy.LOCKED)
    line = press(session, member, tea).line
    tea.unit("each").price = Decimal("9.90")
    session.flush()
    assert (line.locked_price, line.locked_pv) == (Decimal("7.90"), Decimal("6.00"))
    summary = queries.summarize(session.get(AutoshipProfile, line.profile_id), TODAY, RULES, SHIPPING)
    assert summary.next_shipment.subtotal == Decimal("27.90")


# ---------------------------------------------------------------- exactly once

def test_a_repeated_press_is_the_same_line_and_the_same_answer(session, member, product, tea):
    new_profile(session, member, product, first=FIRST)
    first = press(session, member, tea)
    again = press(session, member, tea)
    assert again.repeat and again.line.id == first.line.id
    assert again.shipment.totals == first.shipment.totals
    assert len(lines(session)) == 1
    another = press(session, member, tea, "key-one-time-0000000002")
    assert not another.repeat and len(lines(session)) == 2


def test_a_used_key_for_something_else_or_someone_else_is_refused(session, member, product, tea):
    new_profile(session, member, product, first=FIRST)
    press(session, member, tea)
    with pytest.raises(KeyReused) as refused:
        press(session, member, tea, quantity=2)
    assert refused.value.status == 409
    with pytest.raises(KeyReused):
        press(session, member, product)
    with pytest.raises(KeyReused):
        press(session, make_user(session), tea)
    assert len(lines(session)) == 1


def test_two_presses_at_once_on_two_connections_add_one_line(app, session, member, product, tea):
    new_profile(session, member, product, first=FIRST)
    session.commit()
    ids = member.id, tea.id

    def one_press(n):
        person = db.session.get(User, ids[0])
        return add_to_next_shipment(db.session, user=person, product_id=ids[1], unit_code="each",
                                    quantity=1, idempotency_key=KEY, today=TODAY, rules=RULES,
                                    shipping=SHIPPING).line.id

    answers, errors = run_together(app, 2, one_press)

    assert errors == [] and len(answers) == 2 and answers[0] == answers[1]
    session.expire_all()
    assert len(lines(session)) == 1
    assert len(events(session, session.get(AutoshipProfile, lines(session)[0].profile_id),
                      "one-time item added")) == 1


def test_a_press_behind_its_twin_waits_and_answers_with_the_twins_line(app, session, member, product, tea):
    """The second press read no line for its key before the first committed: it waits for the
    profile's lock, then finds the first's line and repeats its answer."""
    profile = new_profile(session, member, product, first=FIRST)
    session.commit()
    ids = member.id, tea.id, profile.id
    first = press(session, member, tea, profile=profile)

    def second(other):
        person = other.get(User, ids[0])
        added = add_to_next_shipment(other, user=person, product_id=ids[1], unit_code="each", quantity=1,
                                     idempotency_key=KEY, today=TODAY, rules=RULES, shipping=SHIPPING,
                                     profile_id=ids[2])
        return added.repeat, added.line.id

    outcome = run_behind(app, session, second)

    assert outcome == (True, first.line.id)
    assert session.scalar(select(func.count()).select_from(AutoshipOneTimeLine)) == 1


def test_the_same_key_sent_for_two_standing_orders_at_once_is_one_line(app, session, member, product, tea):
    """No profile lock orders these two: the unique key does, and the second is refused as a
    different request."""
    one = new_profile(session, member, product, first=FIRST)
    two = new_profile(session, member, product, first=FIRST + timedelta(days=3))
    session.commit()
    ids = member.id, tea.id, two.id
    press(session, member, tea, profile=one)

    def second(other):
        person = other.get(User, ids[0])
        return add_to_next_shipment(other, user=person, product_id=ids[1], unit_code="each", quantity=1,
                                    idempotency_key=KEY, today=TODAY, rules=RULES, shipping=SHIPPING,
                                    profile_id=ids[2])

    outcome = run_behind(app, session, second)

    assert isinstance(outcome, KeyReused), outcome
    assert [(line.profile_id, line.idempotency_key) for line in lines(session)] == [(one.id, KEY)]


# ---------------------------------------------------------------- removing

def test_a_line_is_removed_until_the_cutoff_and_history_says_so(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)
    line = press(session, member, tea).line
    kept = press(session, member, tea, "key-one-time-0000000002").line

    one_time.remove_one_time_line(session, user=member, profile=profile, line_id=line.id, today=TODAY,
                                  rules=RULES)

    assert (line.status, kept.status) == ("removed", "pending")
    assert [extra.id for extra in profile.one_time_lines] == [kept.id]
    assert events(session, profile, "one-time item removed") == [f"1 × {tea.sku} (each)"]
    with pytest.raises(NotFound):  # a second press of Remove
        one_time.remove_one_time_line(session, user=member, profile=profile, line_id=line.id,
                                      today=TODAY, rules=RULES)
    with pytest.raises(AutoshipError, match="being prepared"):
        one_time.remove_one_time_line(session, user=member, profile=profile, line_id=kept.id,
                                      today=FIRST - timedelta(days=1), rules=RULES)
    assert kept.status == "pending"


def test_a_removed_lines_key_still_answers_with_it_and_adds_nothing(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)
    line = press(session, member, tea).line
    one_time.remove_one_time_line(session, user=member, profile=profile, line_id=line.id, today=TODAY,
                                  rules=RULES)
    again = press(session, member, tea)
    assert again.repeat and again.line.status == "removed" and len(lines(session)) == 1


# ---------------------------------------------------------------- shipping

def test_the_run_ships_the_line_once_with_the_recurring_items_and_never_again(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)
    other = new_profile(session, member, product, first=FIRST)
    press(session, member, tea, quantity=3, profile=profile)
    session.commit()

    assert run(session, FIRST).created == 2
    first = session.scalar(select(Order).where(Order.autoship_profile_id == profile.id))
    assert [(line.product_id, line.quantity) for line in first.lines] == [(product.id, 2), (tea.id, 3)]
    assert (first.subtotal, first.shipping_fee, first.total, first.pv_total) == (
        Decimal("43.70"), Decimal("5.95"), Decimal("49.65"), Decimal("34.00"))
    assert [(line.status, line.order_id) for line in lines(session)] == [("shipped", first.id)]
    plain = session.scalar(select(Order).where(Order.autoship_profile_id == other.id))
    assert [line.product_id for line in plain.lines] == [product.id]

    run(session, date(2027, 1, 15))
    second = session.scalar(select(Order).where(Order.autoship_profile_id == profile.id,
                                                Order.autoship_due_date == date(2027, 1, 15)))
    assert [(line.product_id, line.quantity) for line in second.lines] == [(product.id, 2)]


def test_a_line_that_cannot_ship_is_left_out_of_that_order_and_never_recurs(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST, out_of_stock_policy="skip_item")
    scarce = make_product(session, name="Scarce", on_hand=0)
    press(session, member, scarce, profile=profile)
    press(session, member, tea, "key-one-time-0000000002", profile=profile)
    set_product_active(session, tea.id, False)
    session.commit()

    run(session, FIRST)

    order = session.scalar(select(Order))
    assert [line.product_id for line in order.lines] == [product.id]
    assert [(line.product_id, line.status, line.order_id) for line in lines(session)] == [
        (scarce.id, "left_out", order.id), (tea.id, "left_out", order.id)]


def test_a_cycle_that_orders_nothing_keeps_the_line_for_the_next_order(session, member, product, tea):
    scarce = make_product(session, name="Scarce", on_hand=0)
    profile = new_profile(session, member, product, first=FIRST, out_of_stock_policy="skip_item",
                          items=[(scarce.id, "each", 1)])
    press(session, member, scarce, profile=profile)
    session.commit()

    assert run(session, FIRST).created == 0

    assert [line.status for line in lines(session)] == ["pending"]


def test_the_line_lifts_a_cycle_over_the_minimum_pv(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)  # 16 PV, the minimum is 50
    press(session, member, tea, unit="case", profile=profile)  # 6 x 6 PV
    session.commit()
    result = engine.run_in_process(session, as_of=FIRST, trigger="test",
                                   rules=EngineRules(shipping=SHIPPING, min_pv=Decimal("50")))
    assert result.created == 1
    session.expire_all()
    assert session.scalar(select(Order.pv_total)) == Decimal("52.00")


def test_ship_now_takes_the_one_time_lines_too(session, redis, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)
    press(session, member, tea, profile=profile)
    offer = shipping_now.check_ship_now(session, user=member, profile=profile, today=TODAY)
    assert [line.product_id for line in offer.lines] == [product.id, tea.id]

    order = shipping_now.ship_now(session, user=member, profile=profile, gateway=SandboxGateway(redis),
                                  shipping=SHIPPING, today=TODAY, base_url="http://portal.test")

    assert [line.product_id for line in order.lines] == [product.id, tea.id]
    assert order.subtotal == Decimal("27.90")
    assert [(line.status, line.order_id) for line in lines(session)] == [("shipped", order.id)]
    session.commit()
    run(session, date(2027, 1, 15))
    later = session.scalar(select(Order).where(Order.autoship_due_date == date(2027, 1, 15)))
    assert [line.product_id for line in later.lines] == [product.id]


def test_the_summary_lists_the_next_shipment_with_its_one_time_lines(session, member, product, tea):
    profile = new_profile(session, member, product, first=FIRST)
    press(session, member, tea, unit="case", profile=profile)
    summary = queries.summarize(profile, TODAY, RULES, SHIPPING)
    assert (summary.cycle.subtotal, summary.cycle.total) == (Decimal("20.00"), Decimal("25.95"))
    assert (summary.next_shipment.subtotal, summary.next_shipment.shipping,
            summary.next_shipment.total) == (Decimal("65.00"), Decimal("5.95"), Decimal("70.95"))
    assert summary.short_of_free == Decimal("35.00")


# ---------------------------------------------------------------- the forecast

def test_the_forecast_counts_one_time_lines_in_the_next_run_only_as_the_engine_ships_them(
        app, session, member, product, clock, monkeypatch):
    """The forecast's own test (what each day's run creates), with one-time lines waiting in
    several standing orders: one lifting a cycle over the minimum PV, one of a withdrawn
    product, one out of stock where items are left out, one backordered."""
    from tests.autoship import test_forecast as f

    clock(f.NOON)
    f.every_kind_of_standing_order(session, member, product)
    extra = make_product(session, name="Extra", each_price=Decimal("4.00"), each_pv=Decimal("3.00"))
    gone = make_product(session, name="Gone", each_price=Decimal("2.00"))
    scarce = make_product(session, name="Scarce extra", each_price=Decimal("6.00"), on_hand=0)
    open_ones = one_time.shipment_choices(session, member, f.TODAY, RULES)
    assert len(open_ones) > 8
    for n, profile in enumerate(open_ones):
        for m, (item, unit, quantity) in enumerate([(extra, "case", 1), (gone, "each", 2), (scarce, "each", 1),
                                                    (extra, "each", 3)][:1 + n % 4]):
            add_to_next_shipment(session, user=member, product_id=item.id, unit_code=unit, quantity=quantity,
                                 idempotency_key=f"forecast-key-{n:04d}-{m:04d}-x", today=f.TODAY,
                                 rules=RULES, shipping=SHIPPING, profile_id=profile.id)
    set_product_active(session, gone.id, False)
    session.commit()
    monkeypatch.setitem(app.config, "AUTOSHIP_MIN_PV", str(f.MIN_PV))
    forecast_days = f.forecast(session, f.TODAY, f.TODAY + timedelta(days=40), today=f.TODAY, min_pv=f.MIN_PV)

    created, seen = [], set()
    for offset in range(41):
        day = f.TODAY + timedelta(days=offset)
        clock(f.NOON + timedelta(days=offset))
        result = app.test_cli_runner().invoke(args=["autoship", "run", "--as-of", day.isoformat(), "--sync"])
        assert result.exit_code == 0, result.output
        session.expire_all()
        new = [o for o in session.scalars(select(Order)) if o.id not in seen]
        seen.update(o.id for o in new)
        if new:
            created.append(f.ForecastDay(day, len(new), sum(o.subtotal for o in new),
                                         sum(o.pv_total for o in new)))

    assert forecast_days == created
    shipped = session.scalars(select(AutoshipOneTimeLine).where(AutoshipOneTimeLine.status != "pending")).all()
    assert {line.status for line in shipped} == {"shipped", "left_out"}
    # Every line settled went with its standing order's first order, and only with it.
    for line in shipped:
        first = session.scalar(select(func.min(Order.id)).where(Order.autoship_profile_id == line.profile_id))
        assert line.order_id == first


@pytest.mark.parametrize("subtotal, short", [
    ("0.00", "0.00"),      # nothing to pay ships free already
    ("0.01", "99.99"), ("99.99", "0.01"), ("100.00", "0.00"), ("250.00", "0.00")])
def test_what_free_shipping_still_needs_follows_the_fee(subtotal, short):
    assert SHIPPING.short_of_free(Decimal(subtotal)) == Decimal(short)
    assert (SHIPPING.fee(Decimal(subtotal)) == 0) is (Decimal(short) == 0)
