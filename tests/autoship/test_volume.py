"""Each profile's stored cycle PV follows its items, its price policy and the catalog."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from portal.autoship import services
from portal.autoship.models import AutoshipItem, AutoshipProfile
from portal.autoship.volume import refresh_cycle_pv
from portal.catalog.services import set_product_active
from tests.autoship.conftest import RULES, TODAY, new_profile
from tests.factories import make_product


def stored_pv(session, profile) -> Decimal | None:
    session.expire_all()
    return session.scalar(select(AutoshipProfile.cycle_pv).where(AutoshipProfile.id == profile.id))


def test_a_new_profile_stores_the_pv_of_one_run(session, member, product):
    profile = new_profile(session, member, product, items=[(product.id, "each", 2), (product.id, "case", 1)])
    assert profile.cycle_pv == Decimal("112.00")  # 2 x 8 + 12 x 8
    assert stored_pv(session, profile) == Decimal("112.00")


def test_item_changes_update_it(session, member, product):
    other = make_product(session, each_pv=Decimal("2.50"))
    profile = new_profile(session, member, product)
    services.add_item(session, user=member, profile=profile, product_id=other.id, unit_code="each",
                      quantity=2, today=TODAY, rules=RULES)
    assert profile.cycle_pv == Decimal("21.00")
    item = next(i for i in profile.items if i.product_id == product.id)
    services.change_item(session, user=member, profile=profile, item_id=item.id, unit_code="each",
                         quantity=5, today=TODAY, rules=RULES)
    assert profile.cycle_pv == Decimal("45.00")
    services.remove_item(session, user=member, profile=profile, item_id=item.id, today=TODAY,
                         rules=RULES)
    assert stored_pv(session, profile) == Decimal("5.00")


def test_locked_items_keep_their_pv_when_the_catalog_changes(session, member, product):
    locked = new_profile(session, member, product, price_policy="locked")
    running = new_profile(session, member, product, first=TODAY + timedelta(days=20))
    product.each.pv = Decimal("9.00")  # a volume change in the catalog
    session.flush()
    assert refresh_cycle_pv(session, product_ids=[product.id]) == 2
    assert (locked.cycle_pv, running.cycle_pv) == (Decimal("16.00"), Decimal("18.00"))
    services.change_delivery(session, user=member, profile=locked, address_id=member.home.id,
                             card_id=member.card.id, shipping_method="standard",
                             price_policy="run_time", out_of_stock_policy="backorder",
                             today=TODAY, rules=RULES)
    assert stored_pv(session, locked) == Decimal("18.00")


def test_a_withdrawn_product_leaves_the_cycle_and_comes_back(session, member, product):
    other = make_product(session, each_pv=Decimal("1.00"))
    only = new_profile(session, member, product)
    mixed = new_profile(session, member, product, first=TODAY + timedelta(days=20),
                        items=[(product.id, "each", 1), (other.id, "each", 3)])
    set_product_active(session, product.id, False)
    assert stored_pv(session, only) is None  # nothing in it can be sold
    assert stored_pv(session, mixed) == Decimal("3.00")
    set_product_active(session, product.id, True)
    assert (stored_pv(session, only), stored_pv(session, mixed)) == (Decimal("16.00"), Decimal("11.00"))


def test_recomputing_is_not_a_change_of_the_profile(session, member, product):
    profile = new_profile(session, member, product)
    session.commit()
    before = profile.updated_at
    set_product_active(session, product.id, False)
    session.commit()
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
