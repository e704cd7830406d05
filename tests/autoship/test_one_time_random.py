"""Random days of presses, repeated presses, removals, edits, skips, Ship now and daily runs: each
one-time line ships exactly once, in the next order of its standing order (the run it was
added to, or the shipment a skip or Ship now made next), and never recurs.

A model written here follows what the services accepted: a standing order's recurring items,
and its one-time lines waiting for the next order. Every order the engine or Ship now makes
must hold exactly the model's items plus the lines that were waiting, and the database's
lines must end as the model says (waiting, removed, or shipped in that one order)."""

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.autoship import engine, items, one_time, schedule_changes, shipping_now
from portal.autoship.engine import EngineRules
from portal.autoship.models import AutoshipOneTimeLine, AutoshipProfile
from portal.autoship.profiles import AlreadyDone, AutoshipError
from portal.autoship.recurrence import Recurrence
from portal.orders.models import Order
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import SandboxGateway
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_product

SHIPPING = ShippingRule(Decimal("5.95"), Decimal("100.00"))
DAYS = 45


def closed(profile: AutoshipProfile, today) -> bool:
    """The model's own word for the edit cutoff (two days before the next run)."""
    return (profile.next_run_date - today).days < RULES.cutoff_days


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_one_time_line_ships_once_in_its_run_and_never_recurs(session, redis, member, seed):
    rnd = random.Random(seed)
    products = [make_product(session, name=f"Product {n}", on_hand=1_000_000) for n in range(3)]
    standing = [
        new_profile(session, member, products[0], first=TODAY + timedelta(days=3),
                    rule=Recurrence.every(1, "weeks")),
        new_profile(session, member, products[1], first=TODAY + timedelta(days=5),
                    rule=Recurrence.every(10, "days"), regularity="rolling"),
        new_profile(session, member, products[2], first=TODAY + timedelta(days=8),
                    rule=Recurrence.every(1, "months")),
    ]
    session.commit()
    ids = [p.id for p in standing]
    model_items = {p.id: Counter({(p.items[0].product_id, "each"): 2}) for p in standing}
    waiting: dict[int, dict[int, tuple]] = {pid: {} for pid in ids}  # profile -> line -> (product, unit, qty)
    presses, removed, shipped_in = [], set(), {}
    seen_orders: set[int] = set()
    counter = 0

    def check_order(order: Order) -> None:
        """The order holds the model's items and every line that was waiting, once."""
        pid = order.autoship_profile_id
        expected = Counter({(prod, unit, qty): 1 for (prod, unit), qty in model_items[pid].items()})
        expected.update((prod, unit, qty) for prod, unit, qty in waiting[pid].values())
        assert Counter((l.product_id, l.unit_code, l.quantity) for l in order.lines) == expected, (
            seed, order.autoship_due_date)
        for line_id in waiting[pid]:
            shipped_in[line_id] = order.id
        waiting[pid] = {}
        seen_orders.add(order.id)

    for offset in range(DAYS):
        today = TODAY + timedelta(days=offset)
        for _ in range(rnd.randint(0, 4)):
            profile = session.get(AutoshipProfile, rnd.choice(ids))
            action = rnd.choice(["press", "press", "press", "repeat", "remove", "edit", "skip", "ship now"])
            product, unit = rnd.choice(products), rnd.choice(["each", "case"])
            quantity = rnd.randint(1, 3)
            if action == "press":
                counter += 1
                key = f"random-{seed}-{counter:012d}"
                try:
                    added = one_time.add_to_next_shipment(
                        session, user=member, product_id=product.id, unit_code=unit, quantity=quantity,
                        idempotency_key=key, today=today, rules=RULES, shipping=SHIPPING,
                        profile_id=profile.id)
                except AutoshipError:
                    assert closed(profile, today), (seed, today, "refused while open")
                    continue
                assert not closed(profile, today) and not added.repeat
                assert added.line.run_date == profile.next_run_date
                waiting[profile.id][added.line.id] = (product.id, unit, quantity)
                presses.append((key, profile.id, product.id, unit, quantity, added.line.id))
            elif action == "repeat" and presses:
                key, pid, product_id, unit, quantity, line_id = rnd.choice(presses)
                again = one_time.add_to_next_shipment(
                    session, user=member, product_id=product_id, unit_code=unit, quantity=quantity,
                    idempotency_key=key, today=today, rules=RULES, shipping=SHIPPING,
                    profile_id=rnd.choice([pid, None]))
                assert again.repeat and again.line.id == line_id
            elif action == "remove" and waiting[profile.id]:
                line_id = rnd.choice(sorted(waiting[profile.id]))
                try:
                    one_time.remove_one_time_line(session, user=member, profile=profile, line_id=line_id,
                                                  today=today, rules=RULES)
                except AutoshipError:
                    assert closed(profile, today)
                    continue
                del waiting[profile.id][line_id]
                removed.add(line_id)
            elif action == "edit":
                try:
                    items.add_item(session, user=member, profile=profile, product_id=product.id,
                                   unit_code=unit, quantity=quantity, today=today, rules=RULES)
                except AutoshipError:
                    assert closed(profile, today)
                    continue
                model_items[profile.id][(product.id, unit)] += quantity
            elif action == "skip":
                try:
                    schedule_changes.skip_date(session, user=member, profile=profile,
                                               day=profile.next_run_date, today=today, rules=RULES)
                except AutoshipError:
                    assert closed(profile, today)
            elif action == "ship now":
                try:
                    order = shipping_now.ship_now(session, user=member, profile=profile,
                                                  gateway=SandboxGateway(redis), shipping=SHIPPING,
                                                  today=today, base_url="http://portal.test")
                except AlreadyDone:
                    continue
                check_order(order)
            session.commit()
        session.commit()
        engine.run_in_process(session, as_of=today, trigger="test",
                              rules=EngineRules(shipping=SHIPPING, chunk_size=2))
        session.expire_all()
        for order in session.scalars(select(Order).where(Order.id.not_in(seen_orders or {0}))
                                     .order_by(Order.id)):
            assert order.autoship_due_date <= today
            check_order(order)

    assert presses and shipped_in and len(seen_orders) > 10
    for line in session.scalars(select(AutoshipOneTimeLine)):
        if line.id in removed:
            assert (line.status, line.order_id) == ("removed", None)
        elif line.id in shipped_in:
            assert (line.status, line.order_id) == ("shipped", shipped_in[line.id]), line.id
        else:
            assert line.status == "pending" and line.id in waiting[line.profile_id]
    assert len(presses) == session.scalar(select(func.count())
                                          .select_from(AutoshipOneTimeLine))
