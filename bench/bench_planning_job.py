"""The whole shipment-planning job for 100,000 open orders (quick: 10,000).

On PostgreSQL:

* Seed, set-based: ``seed_synthetic`` members (one Home address each) as destinations, about
  1.4 paid orders per destination over two weeks, ~3 lines per order over 2,000 SKUs with
  skewed popularity (as ``bench_planner``), stock covering ~70% of each SKU's demand, and open
  purchase orders giving 90% of SKUs an expected arrival 15-60 days out. Orders and lines go in
  with bulk INSERTs (explicit ids), then ANALYZE.
* Time ``jobs.fulfilment.plan`` end to end, as a worker runs it minus the debounce: Redis lock,
  one transaction (advisory lock, stock rows locked, the previous plan's allocation given back,
  load, plan, save the difference, allocate with a guarded UPDATE ... FROM), commit. First the
  initial plan (every shipment is new), then a rerun with nothing new, then a rerun after 1%
  more orders (the steady state: every new order or receipt causes a rerun). The phases come
  from the run's own record (load, plan, save); "commit" is the rest: the lock, the run row and
  the commit.

Every plan is checked afterwards: allocated equals what planned shipments hold, never more than
on hand.
"""

from __future__ import annotations

import bisect
import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from random import Random
from time import perf_counter
from typing import Any

from sqlalchemy import func, insert, select, text

from bench.rows import on_each_backend, result_row
from portal.clock import company_today
from bench.seeding import vacuum_analyze

SEED = 20_240_601
SKU_COUNT = 2_000
ORDERS_PER_DESTINATION = 1.4
MAX_LINES_PER_ORDER = 5
QUANTITIES = (1, 1, 1, 2, 2, 3, 5, 10, 12, 24)
STOCK_COVERAGE = 0.7
ETA_KNOWN_SHARE = 0.9
BATCH = 20_000
PLACED_FROM = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


def run(ctx: Any) -> list[dict]:
    orders = 10_000 if ctx.quick else 100_000
    return on_each_backend(ctx, measure_backend, f"planning job, {orders // 1000}k open orders",
                           orders)


def measure_backend(ctx: Any, backend: str, order_count: int) -> list[dict]:
    from jobs.fulfilment import plan
    from portal.extensions import db
    from portal.fulfilment.models import PlanningRun
    from portal.fulfilment.queries import allocation_mismatches

    label = f"{order_count // 1000}k open orders"
    app = ctx.make_app(ctx.database_url(backend, "planning_job"))
    app.config.update(PLANNING_QUIET_SECONDS=0, PLANNING_MAX_DELAY_SECONDS=0)
    rows: list[dict] = []
    with app.app_context():
        ctx.log(f"planning_job [{backend}]: seeding {order_count:,} paid orders")
        started = perf_counter()
        world = World(db.session, order_count)
        lines = world.add_orders(db.session, order_count)
        world.finish(db.session)
        seeded = perf_counter() - started
        rows.append(result_row(f"{label}: seed", backend, round(seeded, 1), "s",
                         f"{order_count:,} paid orders, {lines:,} lines, {SKU_COUNT:,} SKUs, "
                         f"~{ORDERS_PER_DESTINATION} orders per destination; bulk INSERTs + ANALYZE"))

        attempts = ("first plan", "rerun, nothing new", f"rerun after {order_count // 100:,} new orders")
        for attempt in attempts:
            if attempt == attempts[2]:
                world.add_orders(db.session, order_count // 100, minutes_after=14 * 24 * 60)
                db.session.commit()
            ctx.log(f"planning_job [{backend}]: {attempt}")
            started = perf_counter()
            result = plan("bench")
            seconds = perf_counter() - started
            run_row = db.session.get(PlanningRun, result["run"])
            mismatches = allocation_mismatches(db.session)
            db.session.commit()
            if mismatches:
                raise AssertionError(f"allocation does not match the plan: {mismatches[:5]}")
            phases = run_row.load_ms + run_row.plan_ms + run_row.save_ms
            rows.append(result_row(
                f"{label}: planning job, {attempt}", backend, round(seconds, 2), "s",
                f"load {run_row.load_ms:,} ms, plan {run_row.plan_ms:,} ms, save {run_row.save_ms:,} ms, "
                f"lock + run row + commit {seconds * 1000 - phases:,.0f} ms; {run_row.orders:,} orders, "
                f"{run_row.lines:,} lines -> {run_row.shipments_complete:,} complete + "
                f"{run_row.shipments_partial:,} partial shipments, {run_row.eaches_allocated:,} eaches "
                f"allocated, line fill {run_row.line_fill_rate:.0%}, {run_row.orders_waiting:,} orders wait"))
            if attempt == attempts[0]:
                for phase in ("load", "plan", "save"):
                    rows.append(result_row(f"{label}: phase {phase}", backend, getattr(run_row, f"{phase}_ms"),
                                     "ms", _PHASE_NOTES[phase]))
        db.session.remove()
    return rows


_PHASE_NOTES = {
    "load": "lock stock rows, give back the previous plan's allocation, 4 SELECTs: products + "
            "stock, expected arrivals, paid orders, their lines minus released eaches",
    "plan": "portal.fulfilment.plan_shipments on the loaded orders (pure Python)",
    "save": "picks mapped to order lines, diff against the saved plan, new shipments and picks "
            "(COPY on PostgreSQL), one guarded UPDATE ... FROM for allocated",
}


class World:
    """Members, products and expected arrivals for the benchmark, and paid orders added in
    batches; rows go in with bulk INSERTs and explicit ids."""

    def __init__(self, session, order_count: int):
        from portal.addresses.models import Address
        from portal.catalog.models import Product, ProductUnit
        from portal.seed.synthetic import seed_synthetic

        self.rng = Random(SEED + order_count)
        destinations = max(1, round(order_count / ORDERS_PER_DESTINATION))
        seed_synthetic(session, count=destinations, seed=SEED)
        self.addresses = session.execute(select(
            Address.id, Address.user_id, Address.moniker, Address.full_name, Address.line1,
            Address.line2, Address.city, Address.region, Address.postal_code, Address.country)).all()
        first_product = (session.scalar(select(func.max(Product.id))) or 0) + 1
        self.product_ids = list(range(first_product, first_product + SKU_COUNT))
        self.skus = {pid: f"BENCH-{pid:05d}" for pid in self.product_ids}
        session.execute(insert(Product), [
            {"id": pid, "sku": self.skus[pid], "name": f"Bench product {pid}", "description": "",
             "category": "Bench", "active": True} for pid in self.product_ids])
        session.execute(insert(ProductUnit), [
            {"product_id": pid, "code": "each", "eaches_per_unit": 1, "price": Decimal("10.00"),
             "pv": Decimal("8.00"), "bv": Decimal("6.00"), "active": True} for pid in self.product_ids])
        self.popularity = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(SKU_COUNT)))
        self.demand = dict.fromkeys(self.product_ids, 0)

    def add_orders(self, session, count: int, minutes_after: int = 0) -> int:
        """``count`` paid orders placed over two weeks (from ``minutes_after`` the start);
        returns the number of lines."""
        from portal.orders.models import Order, OrderLine

        rng, skus = self.rng, self.skus
        total_weight = self.popularity[-1]
        first_order = (session.scalar(select(func.max(Order.id))) or 0) + 1
        first_line = line_id = (session.scalar(select(func.max(OrderLine.id))) or 0) + 1
        order_defaults = _defaults(Order.__table__)
        order_rows, line_rows = [], []
        window = 14 * 24 * 3600
        for order_id in range(first_order, first_order + count):
            address = self.addresses[rng.randrange(len(self.addresses))]
            placed_at = PLACED_FROM + timedelta(minutes=minutes_after, seconds=rng.randrange(window))
            subtotal = Decimal(0)
            for _ in range(rng.randint(1, MAX_LINES_PER_ORDER)):
                pid = self.product_ids[bisect.bisect(self.popularity, rng.random() * total_weight)]
                qty = rng.choice(QUANTITIES)
                self.demand[pid] += qty
                total = Decimal("10.00") * qty
                subtotal += total
                line_rows.append({"id": line_id, "order_id": order_id, "product_id": pid, "sku": skus[pid],
                                  "name": f"Bench product {pid}", "unit_code": "each", "eaches_per_unit": 1,
                                  "quantity": qty, "eaches": qty, "unit_price": Decimal("10.00"),
                                  "line_total": total, "pv": Decimal("8.00") * qty, "bv": Decimal("6.00") * qty})
                line_id += 1
            key = "|".join(" ".join(part.upper().split()) for part in address[4:10])
            order_rows.append({
                **order_defaults, "id": order_id, "user_id": address.user_id, "status": "paid",
                "source": "checkout", "placed_at": placed_at, "updated_at": placed_at, "paid_at": placed_at,
                "address_id": address.id, "ship_moniker": address.moniker, "ship_name": address.full_name,
                "ship_line1": address.line1, "ship_line2": address.line2, "ship_city": address.city,
                "ship_region": address.region, "ship_postal_code": address.postal_code,
                "ship_country": address.country, "destination_key": key, "payment_label": "Visa ending 4242",
                "subtotal": subtotal, "shipping_fee": Decimal("0.00"), "total": subtotal,
                "pv_total": subtotal * Decimal("0.8"), "bv_total": subtotal * Decimal("0.6")})
            if len(order_rows) >= BATCH:
                _flush(session, Order, OrderLine, order_rows, line_rows)
        _flush(session, Order, OrderLine, order_rows, line_rows)
        _move_sequences(session)
        return line_id - first_line

    def finish(self, session) -> None:
        """Stock for ~70% of the demand so far, expected arrivals for 90% of SKUs; commit and
        ANALYZE."""
        from portal.catalog.models import StockLevel
        from portal.fulfilment.models import PurchaseOrder, PurchaseOrderLine

        rng = self.rng
        session.execute(insert(StockLevel), [
            {"product_id": pid, "allocated": 0,
             "on_hand": int(self.demand[pid] * rng.uniform(STOCK_COVERAGE - 0.2, STOCK_COVERAGE + 0.2))}
            for pid in self.product_ids])
        purchase_orders: dict[int, int] = {}
        po_lines = []
        for pid in self.product_ids:
            if rng.random() < ETA_KNOWN_SHARE:
                days = rng.randint(15, 60)
                if days not in purchase_orders:
                    purchase_orders[days] = session.scalar(
                        insert(PurchaseOrder).returning(PurchaseOrder.id).values(
                            reference=f"BENCH-{days:02d}", supplier="Bench",
                            expected_on=company_today() + timedelta(days=days)))
                po_lines.append({"purchase_order_id": purchase_orders[days], "product_id": pid,
                                 "eaches_expected": max(self.demand[pid], 1), "eaches_received": 0})
        session.execute(insert(PurchaseOrderLine), po_lines)
        session.commit()
        _analyze(session)


def _move_sequences(session) -> None:
    """Explicit ids bypassed the sequences: move them past the new rows."""
    for table in ("products", "orders", "order_lines"):
        session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT max(id) FROM {table}))"))


def _defaults(table) -> dict:
    """Python-side scalar defaults of NOT NULL columns (bulk INSERTs bypass the ORM's)."""
    return {column.name: column.default.arg for column in table.columns
            if not column.nullable and column.default is not None and column.default.is_scalar}


def _flush(session, order_model, line_model, order_rows: list, line_rows: list) -> None:
    if order_rows:
        session.execute(insert(order_model), order_rows)
        session.execute(insert(line_model), line_rows)
    order_rows.clear()
    line_rows.clear()


def _analyze(session) -> None:
    vacuum_analyze(session, "orders", "order_lines", "products", "stock_levels", "purchase_orders",
                   "purchase_order_lines")


if __name__ == "__main__":
    import sys

    sys.exit("run it with the bench runner: python -m bench --only planning_job [--quick]")
