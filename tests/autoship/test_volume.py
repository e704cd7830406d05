"""Each profile's stored cycle PV follows its items, its price policy and the catalog; a
product change is recomputed by a job after the commit, and a nightly repair corrects any
value left stale."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, insert, select, text

from jobs import autoship as autoship_jobs
from jobs.autoship import refresh_product_cycle_pv
from jobs.cron import build_scheduler, schedule
from portal.clock import utcnow
from portal.autoship import items, lifecycle
from portal.autoship.models import AutoshipItem, AutoshipProfile
from portal.autoship.profiles import priced_items
from portal.autoship.volume import refresh_cycle_pv, repair_cycle_pv
from portal.catalog.services import set_product_active
from portal.queues import get_queue
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.conftest import log_in, post_form
from tests.factories import make_admin, make_product


def stored_pv(session, profile) -> Decimal | None:
    session.expire_all()
    return session.scalar(select(AutoshipProfile.cycle_pv).where(AutoshipProfile.id == profile.id))


def stored(session) -> dict[int, Decimal | None]:
    session.expire_all()
    return dict(session.execute(select(AutoshipProfile.id, AutoshipProfile.cycle_pv)).all())


def priced_one_by_one(session) -> dict[int, Decimal | None]:
    """What the engine would bring per profile, priced in Python item by item."""
    session.expire_all()
    expected = {}
    for profile in session.scalars(select(AutoshipProfile)):
        lines, _ = priced_items(profile)
        expected[profile.id] = sum((line.pv for line in lines), Decimal("0.00")) if lines else None
    return expected


def a_catalog_of_every_case(session, member, product) -> dict[str, AutoshipProfile]:
    """Profiles for each rule: catalog PV, locked PV, locked without a kept PV (bulk-loaded),
    a unit no longer sold, a product withdrawn, and no items at all."""
    other = make_product(session, each_pv=Decimal("2.50"))
    gone = make_product(session, each_pv=Decimal("4.00"))
    profiles = {
        "running": new_profile(session, member, product, items=[(product.id, "each", 2),
                                                                 (product.id, "case", 1)]),
        "locked": new_profile(session, member, product, price_policy="locked",
                              items=[(product.id, "each", 1), (product.id, "case", 1)]),
        "locked, bulk-loaded": new_profile(session, member, other, price_policy="locked",
                                           items=[(other.id, "each", 1)]),
        "withdrawn only": new_profile(session, member, gone, items=[(gone.id, "each", 1)]),
        "mixed": new_profile(session, member, other, items=[(other.id, "each", 3),
                                                             (gone.id, "each", 2)]),
        "empty": new_profile(session, member, other, items=[(other.id, "each", 1)]),
    }
    session.execute(insert(AutoshipItem), [{"profile_id": profiles["locked, bulk-loaded"].id,
                                            "product_id": other.id, "unit_code": "case",
                                            "quantity": 2}])  # no locked PV kept
    session.execute(delete(AutoshipItem).where(AutoshipItem.profile_id == profiles["empty"].id))
    product.each.pv = Decimal("9.00")          # a volume change in the catalog
    product.unit("case").active = False        # cases no longer sold
    gone.active = False
    session.flush()
    return profiles


def test_a_new_profile_stores_the_pv_of_one_run(session, member, product):
    profile = new_profile(session, member, product, items=[(product.id, "each", 2), (product.id, "case", 1)])
    assert profile.cycle_pv == Decimal("112.00")  # 2 x 8 + 12 x 8
    assert stored_pv(session, profile) == Decimal("112.00")


def test_item_changes_update_it(session, member, product):
    other = make_product(session, each_pv=Decimal("2.50"))
    profile = new_profile(session, member, product)
    items.add_item(session, user=member, profile=profile, product_id=other.id, unit_code="each",
                   quantity=2, today=TODAY, rules=RULES)
    assert profile.cycle_pv == Decimal("21.00")
    item = next(i for i in profile.items if i.product_id == product.id)
    items.change_item(session, user=member, profile=profile, item_id=item.id, unit_code="each",
                      quantity=5, today=TODAY, rules=RULES)
    assert profile.cycle_pv == Decimal("45.00")
    items.remove_item(session, user=member, profile=profile, item_id=item.id, today=TODAY,
                      rules=RULES)
    assert stored_pv(session, profile) == Decimal("5.00")


def test_the_set_based_recompute_prices_every_profile_as_the_engine_does(session, member, product):
    profiles = a_catalog_of_every_case(session, member, product)
    assert refresh_cycle_pv(session, every_profile=True) == 6  # every one changed
    expected = priced_one_by_one(session)
    assert stored(session) == expected
    assert {name: expected[p.id] for name, p in profiles.items()} == {
        "running": Decimal("18.00"),              # 2 x 9; the case is no longer sold
        "locked": Decimal("8.00"),                # its each at the locked 8; no case
        "locked, bulk-loaded": Decimal("62.50"),  # 2.50 locked + 2 cases at 12 x 2.50
        "withdrawn only": None,
        "mixed": Decimal("7.50"),
        "empty": None,
    }


def test_locked_items_keep_their_pv_when_the_catalog_changes(session, member, product):
    locked = new_profile(session, member, product, price_policy="locked")
    running = new_profile(session, member, product, first=TODAY + timedelta(days=20))
    product.each.pv = Decimal("9.00")  # a volume change in the catalog
    session.flush()
    assert refresh_cycle_pv(session, product_ids=[product.id]) == 1  # the locked one is right
    assert (locked.cycle_pv, running.cycle_pv) == (Decimal("16.00"), Decimal("18.00"))
    lifecycle.change_delivery(session, user=member, profile=locked, address_id=member.home.id,
                              card_id=member.card.id, shipping_method="standard",
                              price_policy="run_time", out_of_stock_policy="backorder",
                              today=TODAY, rules=RULES)
    assert stored_pv(session, locked) == Decimal("18.00")


def test_a_withdrawn_product_leaves_the_cycle_in_a_job_after_the_commit_and_comes_back(
        session, redis, member, product):
    other = make_product(session, each_pv=Decimal("1.00"))
    only = new_profile(session, member, product)
    mixed = new_profile(session, member, product, first=TODAY + timedelta(days=20),
                        items=[(product.id, "each", 1), (other.id, "each", 3)])
    session.commit()
    set_product_active(session, product.id, False)
    session.rollback()
    assert get_queue("default").count == 0  # nothing asked for a change that did not happen
    set_product_active(session, product.id, False)
    assert get_queue("default").count == 0  # not before the commit
    session.commit()
    assert [job.func_name for job in get_queue("default").jobs] == ["jobs.autoship.refresh_product_cycle_pv"]
    assert (stored_pv(session, only), stored_pv(session, mixed)) == (Decimal("16.00"), Decimal("11.00"))
    assert refresh_product_cycle_pv(product.id) == 2
    assert stored_pv(session, only) is None  # nothing in it can be sold
    assert stored_pv(session, mixed) == Decimal("3.00")
    set_product_active(session, product.id, True)
    session.commit()
    assert refresh_product_cycle_pv(product.id) == 2
    assert (stored_pv(session, only), stored_pv(session, mixed)) == (Decimal("16.00"), Decimal("11.00"))
    set_product_active(session, product.id, True)  # already on sale: nothing to recompute
    session.commit()
    assert len(get_queue("default").jobs) == 2


def test_the_admin_withdraws_a_product_and_a_worker_updates_the_team_pv(
        client, session, redis, member, product, run_worker):
    profile = new_profile(session, member, product)
    log_in(client, make_admin(session))
    response = post_form(client, f"/admin/products/{product.id}/active", {"confirm": "yes"}, page="/admin/products")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "withdrawn. The team PV totals of the standing orders holding it are being updated." in page
    assert stored_pv(session, profile) == Decimal("16.00")  # the request did not wait for it
    session.commit()
    run_worker("default")
    assert stored_pv(session, profile) is None
    assert get_queue("default").finished_job_registry.count == 1


def test_recomputing_is_not_a_change_of_the_profile(session, redis, member, product):
    profile = new_profile(session, member, product)
    session.commit()
    before = profile.updated_at
    set_product_active(session, product.id, False)
    session.commit()
    refresh_product_cycle_pv(product.id)
    session.expire_all()
    assert profile.updated_at == before and profile.cycle_pv is None


def test_bulk_loaders_recompute_every_profile(session, member, product):
    profile = new_profile(session, member, product)
    session.execute(insert(AutoshipItem), [{"profile_id": profile.id, "product_id": make_product(session).id,
                                            "unit_code": "each", "quantity": 1}])
    assert stored_pv(session, profile) == Decimal("16.00")  # not yet
    assert refresh_cycle_pv(session, every_profile=True) == 1
    assert stored_pv(session, profile) == Decimal("24.00")
    assert refresh_cycle_pv(session) == 0  # nothing named: nothing done


def corrupt(session, profiles: list[AutoshipProfile]) -> None:
    """What code that forgets refresh_cycle_pv leaves behind: wrong values, written directly."""
    for n, profile in enumerate(profiles):
        value = None if n % 3 == 0 else 123456 + n  # hundredths
        session.execute(text("UPDATE autoship_profiles SET cycle_pv = :value WHERE id = :id"),
                        {"value": value, "id": profile.id})
    session.commit()


def row_versions(session) -> dict[int, str]:
    """PostgreSQL's row version of each profile: it changes whenever a row is written."""
    return dict(session.execute(text("SELECT id, xmin::text FROM autoship_profiles")).all())


def test_the_repair_fixes_exactly_the_stale_values_and_counts_them(session, member, product):
    profiles = list(a_catalog_of_every_case(session, member, product).values())
    profiles += [new_profile(session, member, product, first=TODAY + timedelta(days=n)) for n in range(3, 9)]
    refresh_cycle_pv(session, every_profile=True)
    session.commit()
    correct = stored(session)
    assert correct == priced_one_by_one(session)
    stale = [profiles[0], profiles[2], profiles[4], profiles[7], profiles[9]]
    corrupt(session, stale)
    now = stored(session)
    assert {p.id for p in profiles if now[p.id] != correct[p.id]} == {p.id for p in stale}
    versions = row_versions(session)
    updated_at = dict(session.execute(select(AutoshipProfile.id, AutoshipProfile.updated_at)).all())

    repair = repair_cycle_pv(session)
    session.commit()

    assert (repair.checked, repair.fixed) == (12, 5)
    assert repair.fixed_ids == sorted(p.id for p in stale)
    assert stored(session) == correct
    assert dict(session.execute(select(AutoshipProfile.id, AutoshipProfile.updated_at)).all()) == updated_at
    after = row_versions(session)  # the correct rows were not written at all
    assert {i for i in after if after[i] != versions[i]} == {p.id for p in stale}
    again = repair_cycle_pv(session)
    assert (again.checked, again.fixed) == (12, 0)
    assert again.summary() == "Cycle PV repair: 0 of 12 standing orders were stale."


def test_the_nightly_repair_runs_on_a_worker_and_logs_what_it_fixed(
        app, session, redis, member, product, run_worker):
    profiles = [new_profile(session, member, product, first=TODAY + timedelta(days=n)) for n in range(3, 7)]
    session.commit()
    corrupt(session, profiles[1:3])
    job = get_queue("default").enqueue("jobs.autoship.repair_cycle_pv")
    output = run_worker("default")
    job.refresh()
    ids = sorted(p.id for p in profiles[1:3])
    assert job.return_value() == {"checked": 4, "fixed": 2, "fixed_ids": ids}
    assert (f"Cycle PV repair: 2 of 4 standing orders were stale and are fixed (profile ids "
            f"{ids[0]}, {ids[1]})") in output.stderr
    assert [stored_pv(session, p) for p in profiles] == [Decimal("16.00")] * 4


def test_cron_schedules_the_repair_nightly_as_a_job_a_worker_runs(
        app, session, redis, member, product, run_worker, monkeypatch):
    entry = next(e for e in schedule(app) if e["func"] is autoship_jobs.repair_cycle_pv)
    assert entry == {"func": autoship_jobs.repair_cycle_pv, "queue_name": "default", "cron": "30 9 * * *"}
    job = next(j for j in build_scheduler(app).get_jobs() if j.func_name == "jobs.autoship.repair_cycle_pv")
    next_run = job.next_enqueue_time
    assert (next_run.hour, next_run.minute, next_run.utcoffset()) == (9, 30, timedelta(0))
    assert next_run - utcnow() <= timedelta(days=1)

    profile = new_profile(session, member, product)
    session.commit()
    corrupt(session, [profile])
    enqueued = job.enqueue(redis)  # what the scheduler does at 09:30
    run_worker("default")
    assert enqueued.get_status(refresh=True) == "finished"
    assert stored_pv(session, profile) == Decimal("16.00")

    monkeypatch.setitem(app.config, "CYCLE_PV_REPAIR_CRON", "")
    assert autoship_jobs.repair_cycle_pv not in {e["func"] for e in schedule(app)}


def test_the_repair_command_prints_what_it_fixed(app, session, member, product):
    profiles = [new_profile(session, member, product, first=TODAY + timedelta(days=n)) for n in range(3, 6)]
    session.commit()
    corrupt(session, profiles[:1])
    result = app.test_cli_runner().invoke(args=["autoship", "repair-cycle-pv", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"checked": 3, "fixed": 1, "fixed_ids": [profiles[0].id]}
    again = app.test_cli_runner().invoke(args=["autoship", "repair-cycle-pv"])
    assert again.output.strip() == "Cycle PV repair: 0 of 3 standing orders were stale."
    assert stored_pv(session, profiles[0]) == Decimal("16.00")


def test_the_catalog_announces_a_withdrawal_once_and_standing_orders_react_once(app, session, redis, member,
                                                                              product):
    """The catalog does not know about standing orders: it announces, they react, connected
    once however many apps were built in this process."""
    from portal import create_app
    from portal.catalog.signals import product_sale_changed

    create_app(app.config.copy())  # a second app connects the same receivers again
    profile = new_profile(session, member, product)
    session.commit()
    announced = []

    def listen(sender, *, session):
        announced.append(sender.id)

    with product_sale_changed.connected_to(listen):
        set_product_active(session, product.id, False)
        set_product_active(session, product.id, False)  # no change: no announcement
    session.commit()

    assert announced == [product.id]
    [job] = get_queue("default").jobs
    assert (job.func_name, job.args) == ("jobs.autoship.refresh_product_cycle_pv", (product.id,))
    assert refresh_product_cycle_pv(product.id) == 1 and stored_pv(session, profile) is None
