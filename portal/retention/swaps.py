"""Swapping an item of a standing order for another product or another unit, in one action.

The quantity rule (``plan_swap``, a pure function): the same product in another unit keeps
the number of eaches when the new unit divides it (24 eaches become 2 cases of 12); when it
does not, the nearest whole number of the new unit, at least one, and the answer says so.
Another product takes the unit chosen, else the same unit when that product is sold in it, else
eaches, and keeps the quantity (saying so when the unit changed). The swap is then an item
change like any other: the edit cutoff, the products on sale, the quantity limits and the
merge with an item of the same product and unit (``portal.autoship.items``) apply, the stored
cycle PV is refreshed and the history says what was replaced by what, in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.autoship.items import lock_prices
from portal.autoship.models import AutoshipItem, AutoshipProfile, PricePolicy
from portal.autoship.profiles import (AutoshipError, AutoshipRules, check_open_for_changes,
                                      lock_profile, record)
from portal.autoship.volume import refresh_cycle_pv
from portal.catalog.models import Product, UnitCode, unit_count
from portal.catalog.services import active_product, sellable_unit
from portal.errors import NotFound
from portal.retention.models import Swap

UNIT_NAMES = {UnitCode.EACH: "each", UnitCode.CASE: "case", UnitCode.LOT: "lot"}


@dataclass(frozen=True)
class SwapPlan:
    unit_code: str
    quantity: int
    note: str = ""  # why the quantity or unit is not what the member might expect


def nearest_quantity(eaches: int, per_unit: int) -> int:
    """The whole number of units nearest to ``eaches`` (halves round up), at least one."""
    return max(1, (2 * eaches + per_unit) // (2 * per_unit))


def plan_swap(*, same_product: bool, from_unit: str, from_per_unit: int, quantity: int,
              units: dict[str, int], chosen_unit: str | None, product_name: str) -> SwapPlan:
    """The unit and quantity an item of ``quantity`` × ``from_unit`` (``from_per_unit`` eaches
    each) becomes in a product sold in ``units`` (code -> eaches per unit). AutoshipError when
    the swap means nothing or the unit is not sold."""
    if chosen_unit and chosen_unit not in units:
        offered = ", ".join(UNIT_NAMES.get(code, code) for code in units)
        raise AutoshipError(f"{product_name} is not sold by the {UNIT_NAMES.get(chosen_unit, 'unit')} "
                            f"(available: {offered}).", "unit")
    if same_product:
        if not chosen_unit or chosen_unit == from_unit:
            raise AutoshipError("Choose another product or another unit to swap to.", "unit")
        eaches, per_unit = quantity * from_per_unit, units[chosen_unit]
        if eaches % per_unit == 0:
            return SwapPlan(chosen_unit, eaches // per_unit)
        nearest = nearest_quantity(eaches, per_unit)
        return SwapPlan(chosen_unit, nearest, note=(
            f"{unit_count(eaches)} do not make whole {UNIT_NAMES[chosen_unit]}s of {per_unit}: "
            f"{unit_count(nearest, chosen_unit)} ({unit_count(nearest * per_unit)}) instead."))
    unit = chosen_unit or (from_unit if from_unit in units else UnitCode.EACH)
    if unit not in units:
        raise AutoshipError(f"{product_name} cannot be ordered at the moment.", "product_id")
    note = "" if chosen_unit or unit == from_unit else (
        f"{product_name} is not sold by the {UNIT_NAMES[from_unit]}: "
        f"{unit_count(quantity, unit)} instead.")
    return SwapPlan(unit, quantity, note)


def swap_words(from_product: Product, from_unit: str, from_quantity: int, to_product: Product,
               to_unit: str, to_quantity: int) -> str:
    """The swap as the history and the member read it."""
    return (f"{unit_count(from_quantity, from_unit)} of {from_product.name} replaced by "
            f"{unit_count(to_quantity, to_unit)} of {to_product.name}")


@dataclass(frozen=True)
class SwapDone:
    swap: Swap
    note: str
    repeated: bool = False  # the same form sent again: nothing changed this time

    @property
    def message(self) -> str:
        return f"Swapped: {self.swap.words}." + (f" {self.note}" if self.note else "")


def earlier_swap(session: Session, key: str | None) -> Swap | None:
    return session.scalar(select(Swap).where(Swap.key == key)) if key else None


def swap_item(session: Session, *, user: User, profile: AutoshipProfile, item_id: int,
              product_id: int, unit_code: str | None, key: str | None, today: date,
              rules: AutoshipRules) -> SwapDone:
    """Replace the item by ``product_id`` in ``unit_code`` (None: as ``plan_swap`` chooses).
    The same ``key`` again (a double press, two tabs) answers with the first swap, changing
    nothing; another profile's key is refused."""
    lock_profile(session, profile)  # a twin submission waits here, then finds the first's key
    earlier = earlier_swap(session, key)
    if earlier is not None:
        if earlier.profile_id != profile.id:
            raise AutoshipError("This swap form was already used. Open the standing order again.")
        return SwapDone(earlier, "", repeated=True)
    check_open_for_changes(profile, today, rules)
    item = next((i for i in profile.items if i.id == item_id), None)
    if item is None:
        raise NotFound("That item is not in this standing order.")
    product = active_product(session, product_id)
    from_unit = next(u for u in item.product.units if u.code == item.unit_code)
    plan = plan_swap(same_product=product.id == item.product_id, from_unit=item.unit_code,
                     from_per_unit=from_unit.eaches_per_unit, quantity=item.quantity,
                     units={u.code: u.eaches_per_unit for u in product.sellable_units},
                     chosen_unit=unit_code or None, product_name=product.name)
    quantity = plan.quantity
    sellable_unit(product, plan.unit_code, quantity, rules.max_quantity)
    words = swap_words(item.product, item.unit_code, item.quantity, product, plan.unit_code, quantity)
    swap = Swap(profile_id=profile.id, actor_id=user.id, key=key, from_product_id=item.product_id,
                from_unit=item.unit_code, from_quantity=item.quantity, to_product_id=product.id,
                to_unit=plan.unit_code, to_quantity=quantity, words=words[:500])
    move_item(profile, item, product, plan.unit_code, quantity, rules)
    session.add(swap)
    session.flush()
    refresh_cycle_pv(session, profile_ids=[profile.id])
    record(session, profile, user, "item swapped", words + (f" ({plan.note})" if plan.note else ""))
    return SwapDone(swap, plan.note)


def move_item(profile: AutoshipProfile, item: AutoshipItem, product: Product, unit_code: str,
              quantity: int, rules: AutoshipRules) -> None:
    """The item becomes ``quantity`` × ``unit_code`` of ``product``; added to the profile's item
    of that product and unit when it has one (one item per product and unit)."""
    twin = next((i for i in profile.items if i is not item and i.product_id == product.id
                 and i.unit_code == unit_code), None)
    if twin is not None:
        sellable_unit(product, unit_code, twin.quantity + quantity, rules.max_quantity)
        twin.quantity += quantity
        profile.items.remove(item)
        return
    item.product, item.product_id, item.unit_code, item.quantity = product, product.id, unit_code, quantity
    if profile.price_policy == PricePolicy.LOCKED:
        lock_prices(item)
    else:
        item.locked_price = item.locked_pv = item.locked_bv = None
