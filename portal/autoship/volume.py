"""Each profile's cycle PV, stored: the PV one run of it brings as its items and the catalog
stand today (items of products and units still sold, at the locked PV for price-locked items),
in hundredths; None when no item can be sold any more.

The team views sum it over a whole downline, which would otherwise mean joining every item of
every profile to the catalog. It is kept current by the code that changes what it depends on:
the autoship services after an item or the price policy changes, the catalog when a product is
withdrawn or back on sale, and bulk loaders after their inserts. ``cycle_pv_of`` is its one
definition in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Integer, and_, case, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session, aliased

from portal.autoship.models import AutoshipItem, AutoshipProfile
from portal.catalog.models import Product, ProductUnit


def item_pv(profile, item, unit):
    """One item line's PV per run, in hundredths, as the engine charges it."""
    locked = and_(profile.price_policy == "locked", item.locked_pv.is_not(None))
    return case((locked, type_coerce(item.locked_pv, Integer)),
                else_=type_coerce(unit.pv, Integer)) * item.quantity


def cycle_pv_of(profile):
    """The cycle PV of ``profile`` (a correlated scalar subquery): NULL when nothing can ship."""
    item, product, unit = aliased(AutoshipItem), aliased(Product), aliased(ProductUnit)
    return (select(func.sum(item_pv(profile, item, unit)))
            .select_from(item)
            .join(product, and_(product.id == item.product_id, product.active.is_(True)))
            .join(unit, and_(unit.product_id == item.product_id, unit.code == item.unit_code,
                             unit.active.is_(True)))
            .where(item.profile_id == profile.id)
            .correlate(profile).scalar_subquery())


def refresh_cycle_pv(session: Session, *, profile_ids: Iterable[int] = (),
                     product_ids: Iterable[int] = (), every_profile: bool = False) -> int:
    """Recompute the stored cycle PV of the given profiles, of every profile holding one of
    the given products, or of every profile; one UPDATE. Loaded profiles see the new value.
    Returns the number of profiles updated."""
    profile_ids, product_ids = set(profile_ids), set(product_ids)
    # Not a change of the profile: its updated_at (read as "paused recently") stays.
    statement = update(AutoshipProfile).values(cycle_pv=cycle_pv_of(AutoshipProfile),
                                               updated_at=AutoshipProfile.updated_at)
    if not every_profile:
        chosen = []
        if profile_ids:
            chosen.append(AutoshipProfile.id.in_(sorted(profile_ids)))
        if product_ids:
            chosen.append(AutoshipProfile.id.in_(
                select(AutoshipItem.profile_id).where(AutoshipItem.product_id.in_(sorted(product_ids)))))
        if not chosen:
            return 0
        statement = statement.where(or_(*chosen))
    updated = session.execute(statement.execution_options(synchronize_session=False)).rowcount
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, AutoshipProfile) and (every_profile or product_ids
                                                    or loaded.id in profile_ids):
            session.expire(loaded, ["cycle_pv"])
    return updated
