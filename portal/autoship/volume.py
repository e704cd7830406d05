"""Each profile's cycle PV, stored: the PV one run of it brings as its items and the catalog
stand today (items of products and units still sold, at the locked PV for price-locked items),
in hundredths; None when no item can be sold any more.

The team views sum it over a whole downline, which would otherwise mean joining every item of
every profile to the catalog. It is kept current by the code that changes what it depends on:
the standing-order changes after an item or the price policy changes (``refresh_cycle_pv``, at
once), a product withdrawn or back on sale, as the catalog announces it
(``portal.autoship.reactions`` calls ``request_cycle_pv_refresh``: tens of thousands of
profiles may hold it, so a job recomputes them after the commit), and
bulk loaders after their inserts. Anything that forgets is caught by ``repair_cycle_pv``, run
nightly by cron. ``_fresh_cycle_pv`` is its one definition in SQL (the engine prices the
same way: ``portal.autoship.engine``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rq import Retry
from sqlalchemy import BigInteger, and_, bindparam, func, select, type_coerce, update
from sqlalchemy.orm import Session, aliased

from portal.autoship.models import AutoshipItem, AutoshipProfile
from portal.catalog.models import Product, ProductUnit
from portal.orders.rules import line_volume_sql, unit_amount_sql
from portal.queues import enqueue_after_commit

# A product job that meets a concurrent recompute of the same profiles (another product's job,
# the nightly repair) may be chosen as a deadlock victim on PostgreSQL: it is simply run again.
REFRESH_RETRY = Retry(max=3, interval=[5, 30, 120])


def _chosen_by(key: str | None):
    """The ids of the profiles to recompute, as a select: those named in the expanding
    parameter ``profile_ids``, those holding one of ``product_ids``, or (None) every one."""
    if key == "profile_ids":
        profile = aliased(AutoshipProfile)
        return select(profile.id.label("id")).where(profile.id.in_(bindparam(key, expanding=True)))
    if key == "product_ids":
        item = aliased(AutoshipItem)
        return (select(item.profile_id.label("id")).distinct()
                .where(item.product_id.in_(bindparam(key, expanding=True))))
    profile = aliased(AutoshipProfile)
    return select(profile.id.label("id"))


def _fresh_cycle_pv(chosen, every_profile: bool):
    """(id, pv) for each chosen profile: the PV of one cycle of its sellable items under its
    price policy, by the rule book (NULL when nothing can be sold). Hash joins over the items
    of all chosen profiles at once, instead of a subquery per profile."""
    item, product, unit = aliased(AutoshipItem), aliased(Product), aliased(ProductUnit)
    owner = aliased(AutoshipProfile)
    line_pv = line_volume_sql(unit_amount_sql(owner.price_policy, item.locked_pv, unit.pv),
                              item.quantity)
    sums = (select(item.profile_id.label("profile_id"), func.sum(line_pv).label("pv"))
            .join(owner, owner.id == item.profile_id)
            .join(product, and_(product.id == item.product_id, product.active.is_(True)))
            .join(unit, and_(unit.product_id == item.product_id, unit.code == item.unit_code,
                             unit.active.is_(True)))
            .group_by(item.profile_id))
    if not every_profile:
        sums = sums.where(item.profile_id.in_(chosen))
    chosen, sums = chosen.subquery("chosen"), sums.subquery("sums")
    return (select(chosen.c.id, sums.c.pv)
            .select_from(chosen.outerjoin(sums, sums.c.profile_id == chosen.c.id))
            .subquery("fresh"))


def _recompute_statement(key: str | None):
    fresh = _fresh_cycle_pv(_chosen_by(key), every_profile=key is None)
    profile = AutoshipProfile
    new_pv = fresh.c.pv
    # Only the profiles whose stored value is wrong are written: a correct row keeps its
    # version (no dead tuple, no index entries, no lock), and its updated_at, which the team
    # views read as "paused recently", is not touched either.
    return (update(profile)
            .values(cycle_pv=new_pv, updated_at=profile.updated_at)
            .where(profile.id == fresh.c.id,
                   type_coerce(profile.cycle_pv, BigInteger).is_distinct_from(new_pv))
            .execution_options(synchronize_session=False))


# Built once: building them costs more than running one for a single profile.
_RECOMPUTE = {key: _recompute_statement(key) for key in ("profile_ids", "product_ids", None)}
_REPAIR = _RECOMPUTE[None].returning(AutoshipProfile.id)


def _expire_loaded(session: Session, profile_ids: set[int], every: bool) -> None:
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, AutoshipProfile) and (every or loaded.id in profile_ids):
            session.expire(loaded, ["cycle_pv"])


def refresh_cycle_pv(session: Session, *, profile_ids: Iterable[int] = (),
                     product_ids: Iterable[int] = (), every_profile: bool = False) -> int:
    """Recompute the stored cycle PV of the given profiles, of every profile holding one of
    the given products, or of every profile: set-based UPDATEs that write only the values
    that differ. Loaded profiles see the new value. Returns the number of profiles changed."""
    profile_ids, product_ids = set(profile_ids), set(product_ids)
    if every_profile:
        runs = [(None, {})]
    else:
        runs = [(key, {key: sorted(ids)}) for key, ids in (("profile_ids", profile_ids),
                                                           ("product_ids", product_ids)) if ids]
    changed = sum(session.execute(_RECOMPUTE[key], params).rowcount for key, params in runs)
    if runs:
        _expire_loaded(session, profile_ids, every_profile or bool(product_ids))
    return changed


def request_cycle_pv_refresh(session: Session, *, product_id: int) -> None:
    """Recompute, in a job after ``session`` commits, the cycle PV of every profile holding
    the product (``jobs.autoship.refresh_product_cycle_pv``); nothing happens on rollback.
    The job reads the catalog as it stands when it runs, so the jobs of two quick changes
    leave the same values in whatever order they run."""
    enqueue_after_commit(session, "jobs.autoship.refresh_product_cycle_pv", product_id,
                         retry=REFRESH_RETRY)


@dataclass(frozen=True)
class CyclePvRepair:
    checked: int          # profiles recomputed: all of them
    fixed_ids: list[int]  # those whose stored value was wrong, now corrected

    SHOWN: ClassVar[int] = 50  # ids named in the summary

    @property
    def fixed(self) -> int:
        return len(self.fixed_ids)

    def summary(self) -> str:
        text = f"Cycle PV repair: {self.fixed:,} of {self.checked:,} standing orders were stale"
        if not self.fixed:
            return text + "."
        more = f" and {self.fixed - self.SHOWN:,} more" if self.fixed > self.SHOWN else ""
        return (f"{text} and are fixed (profile ids "
                f"{', '.join(str(i) for i in self.fixed_ids[:self.SHOWN])}{more}).")


def repair_cycle_pv(session: Session) -> CyclePvRepair:
    """Recompute every profile's cycle PV and correct the stale ones (left by code that
    changed items or the catalog without ``refresh_cycle_pv``, or by a lost refresh job).
    Correct rows are not written."""
    checked = session.scalar(select(func.count()).select_from(AutoshipProfile))
    fixed = session.scalars(_REPAIR).all()
    _expire_loaded(session, set(), True)
    return CyclePvRepair(checked=checked, fixed_ids=sorted(fixed))
