"""The team volume page's "close to the next rank" list: its first page (the people whose PV
and GV reach 80% of their next rank's minimums, closest first, the count for the pager, and the
legs of the page's people for what each still needs) for the IBO whose downline is nearest
100,000 people (quick: 10,000) and for the top of the tree (everyone below).

It runs inside ``bench_volume`` once that has computed the period (the same database: seeding
a million people twice would measure nothing new). Goal (from the issue): under 200 ms at 1M.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from bench.rows import result_row
from bench.seeding import nearest_downline

REPEAT = 20
SHARE = 80


def measure_close(ctx: Any, backend: str, session, label: str, period, sizes: dict[int, int],
                  people: int) -> list[dict]:
    from portal.accounts.models import User
    from portal.volume.rank_plans import plan_in_force
    from portal.volume.team import close_to_next_rank

    _version, plan = plan_in_force(session, period)
    target = 100_000 if people >= 1_000_000 else 10_000
    top = session.scalar(select(User).where(User.depth == 0, User.tree_path.is_not(None))
                         .order_by(User.id).limit(1))
    rows = []
    for who, person in (("nearest %s below" % f"{target:,}", session.get(User, nearest_downline(sizes, target))),
                        ("the top of the tree", top)):
        session.commit()
        samples = ctx.time_calls(lambda: close_to_next_rank(session, person, period, plan, share=SHARE),
                                 repeat=REPEAT, warmup=3)
        page = close_to_next_rank(session, person, period, plan, share=SHARE)
        median = ctx.percentile(samples, 0.5)
        rows.append(result_row(
            f"volume {label} people: close to next rank, first page ({who})", backend, round(median, 2), "ms",
            f"p95 {ctx.percentile(samples, 0.95):.1f} ms over {REPEAT}; IBO with {sizes.get(person.id, 0):,} below; "
            f"{page.total:,} within {SHARE}%, {len(page.items)} on the page with what each needs; "
            f"load {os.getloadavg()[0]:.1f}; goal < 200 ms: {'met' if median < 200 else 'not met'}"))
    return rows
