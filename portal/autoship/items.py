"""What a standing order ships: adding, changing and removing its items. Each change keeps the
profile's stored cycle PV current and is written to its history."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.autoship.models import AutoshipItem, AutoshipProfile, PricePolicy
from portal.autoship.profiles import (AutoshipError, AutoshipRules, check_open_for_changes,
                                      lock_profile, record)
from portal.autoship.volume import refresh_cycle_pv
from portal.catalog.services import active_product, sellable_unit
from portal.errors import NotFound

MAX_ITEMS_PER_PROFILE = 50


def lock_prices(item: AutoshipItem) -> None:
    """Keep the unit's price and volumes of today on the item (price policy "locked")."""
    unit = item.product.unit(item.unit_code)
    item.locked_price, item.locked_pv, item.locked_bv = unit.price, unit.pv, unit.bv


def new_item(session: Session, profile: AutoshipProfile, product_id: int, unit_code: str,
             quantity: int, rules: AutoshipRules) -> AutoshipItem:
    """``quantity`` more of a sellable unit in the profile: added to the same product and
    unit's item when there is one, else a new item (prices locked under a locked policy)."""
    product = active_product(session, product_id)
    sellable_unit(product, unit_code, quantity, rules.max_quantity)
    item = next((i for i in profile.items if i.product_id == product.id and i.unit_code == unit_code),
                None)
    if item is not None:
        sellable_unit(product, unit_code, item.quantity + quantity, rules.max_quantity)
        item.quantity += quantity
        return item
    if len(profile.items) >= MAX_ITEMS_PER_PROFILE:
        raise AutoshipError(f"A standing order holds at most {MAX_ITEMS_PER_PROFILE} items.")
    item = AutoshipItem(product=product, product_id=product.id, unit_code=unit_code, quantity=quantity)
    if profile.price_policy == PricePolicy.LOCKED:
        lock_prices(item)
    profile.items.append(item)
    return item


def add_item(session: Session, *, user: User, actor: User | None = None,
             profile: AutoshipProfile, product_id: int,
             unit_code: str, quantity: int, today: date, rules: AutoshipRules) -> AutoshipItem:
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    item = new_item(session, profile, product_id, unit_code, quantity, rules)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "item added", f"{quantity} × {item.product.sku} ({unit_code})")
    return item


def add_items(session: Session, *, user: User, actor: User | None = None, profile: AutoshipProfile,
              lines: list[tuple[int, str, int]], today: date, rules: AutoshipRules) -> None:
    """Several (product id, unit code, quantity) into the profile as one change (a cart added
    to it): each merged into the same product and unit's item as ``add_item`` does; one
    refused line refuses them all."""
    if not lines:
        raise AutoshipError("Nothing to add.")
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    added = [new_item(session, profile, product_id, unit_code, quantity, rules)
             for product_id, unit_code, quantity in lines]
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "items added", ", ".join(
        f"{quantity} × {item.product.sku} ({unit_code})"
        for item, (_product_id, unit_code, quantity) in zip(added, lines)))


def _owned_item(profile: AutoshipProfile, item_id: int) -> AutoshipItem:
    item = next((i for i in profile.items if i.id == item_id), None)
    if item is None:
        raise NotFound("That item is not in this standing order.")
    return item


def change_item(session: Session, *, user: User, actor: User | None = None,
                profile: AutoshipProfile, item_id: int,
                unit_code: str, quantity: int, today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    item = _owned_item(profile, item_id)
    sellable_unit(item.product, unit_code, quantity, rules.max_quantity)
    before = f"{item.quantity} × {item.unit_code}"
    twin = next((i for i in profile.items if i is not item and i.product_id == item.product_id
                 and i.unit_code == unit_code), None)
    if twin is not None:
        sellable_unit(item.product, unit_code, twin.quantity + quantity, rules.max_quantity)
        twin.quantity += quantity
        profile.items.remove(item)
    else:
        item.unit_code, item.quantity = unit_code, quantity
        if profile.price_policy == PricePolicy.LOCKED:
            lock_prices(item)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "item changed",
           f"{item.product.sku}: {before} → {quantity} × {unit_code}")


def remove_item(session: Session, *, user: User, actor: User | None = None,
                profile: AutoshipProfile, item_id: int,
                today: date, rules: AutoshipRules) -> None:
    lock_profile(session, profile)
    check_open_for_changes(profile, today, rules)
    item = _owned_item(profile, item_id)
    if len(profile.items) == 1:
        raise AutoshipError("A standing order needs at least one item. Cancel it instead, "
                            "or add another item first.")
    profile.items.remove(item)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, actor or user, "item removed", f"{item.product.sku} ({item.unit_code})")
