"""Benchmark for the sibling-shipment planner (portal.fulfilment.plan_shipments).

Inputs are deterministic (random.Random with a fixed seed per size) and shaped
like a busy day: ~3 lines per order, ~1.5 orders per destination, 2,000 SKUs with
skewed popularity, stock covering ~70% of each SKU's demand, and etas known for
~90% of SKUs. Only plan_shipments is timed, not input generation.

Run by the bench runner via ``run(ctx)``, or alone:
``python bench/bench_planner.py [--quick]``.
"""

from __future__ import annotations

import gc
import math
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from types import SimpleNamespace
from typing import Any

if __package__ in (None, ""):
    # Run as a script, sys.path[0] is bench/; the portal package lives one level up.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.fulfilment import OpenOrder, OrderLine, plan_shipments  # noqa: E402
from portal.fulfilment.planner import _plan as _plan_without_gc_pause  # noqa: E402

SKU_COUNT = 2_000
MEAN_LINES_PER_ORDER = 3
MEAN_ORDERS_PER_DESTINATION = 1.5
STOCK_COVERAGE = 0.7
ETA_KNOWN_SHARE = 0.9
FULL_SIZES = (10_000, 100_000, 200_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TIMED_RUNS = 3
SINGLE_RUN_FROM = 1_000_000  # sizes this large are timed once: a run takes seconds
GC_COMPARISON_SIZE = 100_000

BenchInput = tuple[list[OpenOrder], dict[str, int], dict[str, datetime | None]]


def make_inputs(line_count: int, seed: int = 20_240_601) -> BenchInput:
    """Build orders totalling exactly ``line_count`` lines, plus stock and etas."""
    rng = Random(seed + line_count)
    skus = [f"SKU-{number:05d}" for number in range(SKU_COUNT)]
    # Zipf-like popularity: a few SKUs appear on many orders, contending for stock.
    popularity = [1.0 / (rank + 1) ** 0.8 for rank in range(SKU_COUNT)]
    lines_per_order = []
    lines_assigned = 0
    while lines_assigned < line_count:
        lines_here = min(rng.randint(1, 2 * MEAN_LINES_PER_ORDER - 1), line_count - lines_assigned)
        lines_per_order.append(lines_here)
        lines_assigned += lines_here
    destination_count = max(1, round(len(lines_per_order) / MEAN_ORDERS_PER_DESTINATION))
    start = datetime(2024, 6, 1, 8, 0)
    window_seconds = 14 * 24 * 3600

    line_skus = iter(rng.choices(skus, weights=popularity, k=line_count))
    orders: list[OpenOrder] = []
    demand: dict[str, int] = {}
    for order_number, lines_here in enumerate(lines_per_order):
        lines = []
        for _ in range(lines_here):
            sku = next(line_skus)
            qty = rng.choice((1, 1, 1, 2, 2, 3, 5, 10, 12, 24))
            demand[sku] = demand.get(sku, 0) + qty
            lines.append(OrderLine(sku, qty))
        orders.append(
            OpenOrder(
                id=f"SO-{order_number:07d}",
                destination=f"DEST-{rng.randrange(destination_count):07d}",
                placed_at=start + timedelta(seconds=rng.randrange(window_seconds)),
                lines=tuple(lines),
            )
        )

    stock = {
        sku: int(total * rng.uniform(STOCK_COVERAGE - 0.2, STOCK_COVERAGE + 0.2)) for sku, total in demand.items()
    }
    eta: dict[str, datetime | None] = {}
    for sku in skus:
        if rng.random() < ETA_KNOWN_SHARE:
            eta[sku] = start + timedelta(days=rng.randint(15, 60))
        elif rng.random() < 0.5:
            eta[sku] = None  # otherwise the SKU is missing from eta, which means the same
    return orders, stock, eta


def time_plan(
    inputs: BenchInput, runs: int, planner: Callable[..., list[Any]] = plan_shipments
) -> tuple[float, list[Any]]:
    """Best wall time in seconds over ``runs`` calls, and the last plan."""
    orders, stock, eta = inputs
    best = float("inf")
    plan: list[Any] = []
    for _ in range(runs):
        # Start each run from a clean heap so a run is not charged for
        # collecting the input generator's or the previous run's garbage.
        plan = []
        gc.collect()
        started = time.perf_counter()
        plan = planner(orders, stock, eta)
        best = min(best, time.perf_counter() - started)
    return best, plan


def time_memory_walk(orders: list[OpenOrder], runs: int) -> float:
    """Best time in seconds to read every line's qty, visiting orders in a random order.

    The planner visits orders destination by destination, i.e. scattered over
    the heap; this walk shows how much of its per-line growth is the memory
    hierarchy rather than the algorithm.
    """
    scattered = Random(7).sample(orders, len(orders))
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        total = 0
        for order in scattered:
            for line in order.lines:
                total += line.qty
        best = min(best, time.perf_counter() - started)
    return best


def _size_label(line_count: int) -> str:
    return f"{line_count // 1_000_000}M" if line_count >= 1_000_000 else f"{line_count // 1_000}k"


def run(ctx: Any) -> list[dict[str, Any]]:
    sizes = QUICK_SIZES if getattr(ctx, "quick", False) else FULL_SIZES
    rows: list[dict[str, Any]] = []
    seconds_per_line: dict[int, float] = {}
    walk_seconds_per_line: dict[int, float] = {}
    for line_count in sizes:
        inputs = make_inputs(line_count)
        runs = 1 if line_count >= SINGLE_RUN_FROM else TIMED_RUNS
        seconds, plan = time_plan(inputs, runs)
        seconds_per_line[line_count] = seconds / line_count
        walk_seconds_per_line[line_count] = time_memory_walk(inputs[0], runs) / line_count
        complete = sum(1 for shipment in plan if shipment.kind == "complete")
        destinations = len({order.destination for order in inputs[0]})
        rows.append(
            {
                "name": f"planner {_size_label(line_count)} lines",
                "backend": "pure python",
                "value": round(seconds * 1000, 1),
                "unit": "ms",
                "notes": (
                    f"{'best of %d' % runs if runs > 1 else '1 run'}; {len(inputs[0]):,} orders, "
                    f"{destinations:,} destinations; "
                    f"{complete:,} complete + {len(plan) - complete:,} partial shipments"
                ),
            }
        )
        if line_count == GC_COMPARISON_SIZE:
            # The same work without plan_shipments' GC pause, to show what the pause buys.
            seconds, _ = time_plan(inputs, TIMED_RUNS, planner=_plan_without_gc_pause)
            rows.append(
                {
                    "name": f"planner {_size_label(line_count)} lines, cyclic GC left on",
                    "backend": "pure python",
                    "value": round(seconds * 1000, 1),
                    "unit": "ms",
                    "notes": f"best of {TIMED_RUNS}; plan_shipments minus its GC pause",
                }
            )
        del inputs, plan

    small, large = (100_000, 1_000_000) if 1_000_000 in seconds_per_line else (10_000, 100_000)
    rows.append(
        {
            "name": f"planner growth {_size_label(small)}->{_size_label(large)}",
            "backend": "pure python",
            "value": round(seconds_per_line[large] / seconds_per_line[small], 2),
            "unit": "x per-line time",
            "notes": (
                f"1.0 = linear, n log n ~{math.log(large) / math.log(small):.2f}; for comparison, merely reading "
                f"every line of the same orders in scattered order grows "
                f"{walk_seconds_per_line[large] / walk_seconds_per_line[small]:.2f}x per line (caches, TLB)"
            ),
        }
    )
    return rows


if __name__ == "__main__":
    for row in run(SimpleNamespace(quick="--quick" in sys.argv[1:])):
        print(row)
