"""Seeding shared by the benchmarks: products, the people who can pay, standing orders in bulk,
and the statistics the planner needs afterwards.

People come from ``portal.seed.synthetic.seed_synthetic`` (a Home address and a sandbox Visa
each). Standing orders go in with bulk INSERTs, so each bench draws its own rows from its own
seeded generator (the same rows for a size, run after run) and this module inserts them, in
batches that keep a million rows from being held at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from itertools import islice
from time import perf_counter

from sqlalchemy import insert, select, text

PROFILE_BATCH = 20_000
ITEM_BATCH = 50_000
# The genealogy and team benches read the same tree.
TREE_SEED = 1
TREE_IBO_SHARE = 0.3
TREE_MAX_DEPTH = 30


def synthetic_tree(session, people: int, progress=None) -> str:
    """``people`` synthetic people in a sponsor tree up to 30 levels deep, three in ten IBOs,
    each with a Home address and a card; returns ``seed_synthetic``'s summary."""
    from portal.seed.synthetic import seed_synthetic

    return seed_synthetic(session, count=people, seed=TREE_SEED, ibo_share=TREE_IBO_SHARE,
                          max_depth=TREE_MAX_DEPTH, progress=progress)


def timed_tree(ctx, bench: str, backend: str, session, people: int, progress=None) -> tuple[str, float]:
    """``synthetic_tree`` for ``bench`` on ``backend``, logged: its summary and the seconds it took."""
    ctx.log(f"{bench} [{backend}]: seeding {people:,} people")
    started = perf_counter()
    summary = synthetic_tree(session, people, progress=progress)
    return summary, perf_counter() - started


def nearest_downline(sizes: dict[int, int], count: int) -> int:
    """The member whose downline (``sizes``: member id -> people below) is nearest ``count``
    people; of equals, the lowest id, so that every run measures the same member."""
    return min(sizes, key=lambda uid: (abs(sizes[uid] - count), uid))


def demo_products(session, *, bv_share: Decimal, on_hand: int) -> list:
    """The demo catalogue's products (``portal.seed.demo.PRODUCTS``), flushed; each BV is
    ``bv_share`` of its PV."""
    from portal.catalog.services import create_product
    from portal.seed.demo import PRODUCTS

    products = [create_product(session, sku=sku, name=name, category=category,
                               description=f"{name}.", each_price=Decimal(price),
                               each_pv=Decimal(pv), each_bv=Decimal(pv) * bv_share,
                               case_size=case, lot_size=lot, on_hand=on_hand)
                for sku, name, category, price, pv, case, lot in PRODUCTS]
    session.flush()
    return products


def numbered_products(session, sku_prefix: str, name: str, numbers: range, *, each_pv: Decimal,
                      pv_step: Decimal, each_bv: Decimal, on_hand: int = 10_000_000) -> None:
    """Products ``<sku_prefix>-<n>`` for n in ``numbers``, priced 9.95 + n, with a PV of
    ``each_pv`` + n x ``pv_step``; sold by the case of 12 and the lot of 144."""
    from portal.catalog.services import create_product

    for n in numbers:
        create_product(session, sku=f"{sku_prefix}-{n}", name=f"{name} {n}", description="",
                       category="Bench", each_price=Decimal("9.95") + n,
                       each_pv=each_pv + pv_step * n, each_bv=each_bv, case_size=12,
                       lot_size=144, on_hand=on_hand)


def payers(session) -> list[tuple[int, int, int]]:
    """(user id, address id, card id) of everybody with an address and a card, by user id."""
    from portal.addresses.models import Address
    from portal.payments.models import PaymentMethod

    return [tuple(row) for row in session.execute(
        select(Address.user_id, Address.id, PaymentMethod.id)
        .join(PaymentMethod, PaymentMethod.user_id == Address.user_id)
        .order_by(Address.user_id))]


def profile_row(user_id: int, address_id: int, card_id: int, **fields) -> dict:
    """A standing order's row for a bulk INSERT: ``fields`` over the usual choices."""
    return {"user_id": user_id, "address_id": address_id, "payment_method_id": card_id,
            "status": "active", "regularity": "calendar", "shipping_method": "standard",
            "price_policy": "run_time", "out_of_stock_policy": "backorder", **fields}


def insert_standing_orders(session, profiles: Iterable[dict],
                           items_for: Callable[[list[int]], Iterable[dict]]) -> tuple[int, int]:
    """Insert ``profiles``, then the items ``items_for`` draws for their ids (in id order),
    then the stored cycle PV the services would have kept; commit. Returns (profiles, items)."""
    from portal.autoship.models import AutoshipItem, AutoshipProfile
    from portal.autoship.volume import refresh_cycle_pv

    insert_in_batches(session, AutoshipProfile, profiles, PROFILE_BATCH)
    ids = session.scalars(select(AutoshipProfile.id).order_by(AutoshipProfile.id)).all()
    items = insert_in_batches(session, AutoshipItem, items_for(ids), ITEM_BATCH)
    refresh_cycle_pv(session, every_profile=True)  # bulk inserts bypass the services
    session.commit()
    return len(ids), items


def insert_in_batches(session, model, rows: Iterable[dict], size: int) -> int:
    """Bulk INSERT ``rows`` into ``model``'s table, ``size`` at a time; returns how many."""
    rows, count = iter(rows), 0
    while batch := list(islice(rows, size)):
        session.execute(insert(model), batch)
        count += len(batch)
    return count


def vacuum_analyze(session, *tables: str) -> None:
    """VACUUM (ANALYZE) ``tables`` outside the session's transaction (which is not committed)."""
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {', '.join(tables)}"))
