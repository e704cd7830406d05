"""The world the security tests stand on is what it says it is."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.fulfilment.models import ShipmentPick
from portal.genealogy.queries import downline_size
from tests.security.routes import rule_arguments, url_for_rule


def test_the_owner_is_in_the_uplines_downline_and_nobody_elses(session, world):
    assert world.owner.tree_path.startswith(world.upline.tree_path)
    assert not world.owner.tree_path.startswith(world.ibo.tree_path)
    assert world.other.tree_path.startswith(world.ibo.tree_path)
    assert not world.other.tree_path.startswith(world.upline.tree_path)
    assert world.second_level.tree_path.startswith(world.frontline_ibo.tree_path)
    assert world.frontline_ibo.tree_path.startswith(world.upline.tree_path)
    # the upline's team: the owner, Ben and Cleo; the outsider's: the other member alone
    assert downline_size(session, world.upline) == 3 and downline_size(session, world.ibo) == 1
    assert (world.owner.role, world.other.role, world.upline.role, world.ibo.role, world.admin.role,
            world.frontline_ibo.role, world.second_level.role) \
        == ("member", "member", "ibo", "ibo", "admin", "ibo", "member")


def test_the_owner_and_the_other_member_each_hold_one_of_everything(world):
    for person in (world.owner, world.other):
        things = world.of(person)
        assert things.order.status == "paid" and things.order.user_id == person.id
        assert things.failed_order.status == "payment_failed"
        assert things.failed_order.autoship_profile_id == things.profile.id
        assert things.oneclick_order.status == "open" and things.oneclick_order.source == "oneclick"
        assert things.profile.status == "active" and len(things.profile.items) == 2
        assert things.profile.payment_method_id == things.card.id
        assert things.cart_line.user_id == person.id and things.mail is not None
        assert things.client.revoked_at is None


def test_an_order_waits_for_the_product_on_the_purchase_order(session, world):
    assert world.awaited_product.stock.on_hand == 0
    assert world.purchase_order_line.product_id == world.awaited_product.id
    assert world.waiting_order.status == "paid" and world.waiting_order.user_id == world.second_level.id
    assert [line.product_id for line in world.waiting_order.lines] == [world.awaited_product.id]
    assert session.scalar(select(func.count()).select_from(ShipmentPick)
                          .where(ShipmentPick.order_id == world.waiting_order.id)) == 0
    assert session.scalar(select(func.count()).select_from(ShipmentPick)
                          .where(ShipmentPick.order_id == world.of(world.owner).order.id)) > 0


def test_every_rule_gets_a_path_with_the_given_persons_ids(app, world):
    owner_paths, other_paths = {}, {}
    for rule in app.url_map.iter_rules():
        owner_paths[rule.rule] = url_for_rule(rule, world)
        other_paths[rule.rule] = url_for_rule(rule, world, owner=world.other)
        assert set(rule_arguments(rule, world)) == set(rule.arguments)
    assert owner_paths["/autoship/<int:profile_id>"] == f"/autoship/{world.of(world.owner).profile.id}"
    assert other_paths["/autoship/<int:profile_id>"] == f"/autoship/{world.of(world.other).profile.id}"
    assert owner_paths["/team/people/<member_number>"] == f"/team/people/{world.owner.member_number}"
