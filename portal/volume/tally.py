"""The bottom-up pass over the tree: pure, over plain integers (hundredths of a point).

People come deepest first (the genealogy in reverse ``tree_path`` order: everyone after their
whole downline). A member's own PV goes to their sponsor's PV; an IBO's GV is their PV plus
their legs' GV (a leg: a frontline IBO's group); their rank is decided by ``Ranker`` from
their PV and their legs' GV and ranks, which are final by then. Only rows that carry something
come out: a member with PV of their own, an IBO whose PV is not zero or who has a leg with a row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

from portal.volume.plan import RankPlan

HUNDRED = Decimal(100)


class Ranker:
    """The plan's rules (``plan.meets``) over integers: the level of the highest rank met, or -1.
    A test holds it equal to ``plan.paid_as``."""

    def __init__(self, plan: RankPlan):
        self.codes = [rank.code for rank in plan.ranks]
        self.rules = []
        for rank in plan.ranks:
            cap = None if rank.max_leg_share is None else rank.max_leg_share * rank.min_gv * HUNDRED
            legs = tuple((leg.count, plan.level(leg.rank)) for leg in rank.legs)
            self.rules.append((int(rank.min_pv * HUNDRED), int(rank.min_gv * HUNDRED), cap, legs))

    def level(self, pv: int, legs: list[tuple[int, int]]) -> int:
        """``legs``: (GV, rank level) of each leg."""
        for level in range(len(self.rules) - 1, -1, -1):
            min_pv, min_gv, cap, leg_rules = self.rules[level]
            if min_pv and pv < min_pv:
                continue
            if min_gv:
                if cap is None:
                    counted = pv + sum(gv for gv, _ in legs)
                else:
                    counted = pv + sum(gv if gv < cap else cap for gv, _ in legs)
                if counted < min_gv:
                    continue
            if all(sum(1 for _, held in legs if held >= wanted) >= count for count, wanted in leg_rules):
                return level
        return -1

    def code(self, level: int) -> str | None:
        return None if level < 0 else self.codes[level]


class Row(NamedTuple):
    user_id: int
    role: str
    own_pv: int
    pv: int
    gv: int
    level: int
    frontline_legs: int
    leg_of_id: int | None


def tally(people: Iterable[tuple[int, int | None, str]], own_pv: dict[int, int], ranker: Ranker,
          progress: Callable[[int], None] | None = None, every: int = 10_000) -> Iterator[Row]:
    """Rows for ``people`` — (id, sponsor id, role) deepest first — given each one's own PV."""
    members_pv: dict[int, int] = defaultdict(int)
    legs_of: dict[int, list[tuple[int, int]]] = {}
    seen = 0
    for user_id, sponsor_id, role in people:
        seen += 1
        if progress is not None and seen % every == 0:
            progress(every)
        own = own_pv.get(user_id, 0)
        if role == "ibo":
            pv = own + members_pv.pop(user_id, 0)
            legs = legs_of.pop(user_id, None)
            if not pv and not own and not legs:
                continue
            if legs:
                gv = pv + sum(gv for gv, _ in legs)
                level = ranker.level(pv, legs)
            else:
                gv, level = pv, ranker.level(pv, [])
            yield Row(user_id, role, own, pv, gv, level, len(legs) if legs else 0, sponsor_id)
            if sponsor_id is not None:
                legs_of.setdefault(sponsor_id, []).append((gv, level))
        elif own:
            yield Row(user_id, role, own, own, own, -1, 0, sponsor_id)
            if sponsor_id is not None:
                members_pv[sponsor_id] += own
    if progress is not None and seen % every:
        progress(seen % every)
