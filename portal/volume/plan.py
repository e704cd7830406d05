"""The rank plan and qualification: pure, no database.

The plan is data the company edits (a JSON document, versioned in ``rank_plan_versions``); this
module reads it, refuses a document that cannot work with every reason at once, and says which
rank a person's volume qualifies for.

Rules, in the order a rank is checked (every requirement must be met):

- **PV**: the person's PV is at least ``min_pv`` (a figure of zero asks for nothing, not even a
  PV above zero after refunds; so for GV).
- **GV with the maximum-leg rule**: the qualifying GV is at least ``min_gv``. Without a share it
  is the GV itself. With ``max_leg_share`` = s, at most s x ``min_gv`` counts from any one leg:
  qualifying GV = PV + sum over legs of min(leg GV, s x min_gv). Personal PV always counts in full.
- **Legs holding a rank**: for each leg requirement (count n, rank R), at least n frontline legs
  whose paid-as rank in the same period is R or higher. Each leg requirement counts on its own:
  "2 legs at Silver" and "1 leg at Gold" are both met by two Gold legs.

The paid-as rank is the highest rank whose requirements are all met (a higher rank is met or not
on its own, whatever the ranks below it say). The next rank is the one above the paid-as rank.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from portal.errors import DomainError
from portal.formatting import number, volume

ZERO = Decimal("0")
# Larger than any period's volume can be (Volume columns hold hundredths in a BIGINT, and no
# company sells a billion points a month): a figure above it is a typing slip.
MAX_FIGURE = Decimal("1000000000")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


@dataclass(frozen=True)
class LegRequirement:
    count: int          # this many frontline legs ...
    rank: str           # ... each holding at least this rank (a rank code) in the same period


@dataclass(frozen=True)
class Rank:
    code: str
    name: str
    min_pv: Decimal
    min_gv: Decimal
    max_leg_share: Decimal | None   # at most this share (0 < s <= 1) of min_gv counts from one leg
    legs: tuple[LegRequirement, ...]


@dataclass(frozen=True)
class RankPlan:
    ranks: tuple[Rank, ...]          # lowest first; a rank's order is its level

    def rank(self, code: str) -> Rank:
        for rank in self.ranks:
            if rank.code == code:
                return rank
        raise KeyError(code)

    def level(self, code: str | None) -> int:
        """0 for the lowest rank, -1 for no rank (or a code this plan does not know)."""
        for index, rank in enumerate(self.ranks):
            if rank.code == code:
                return index
        return -1

    def at_least(self, held: str | None, wanted: str) -> bool:
        return held is not None and self.level(held) >= self.level(wanted) >= 0


class PlanInvalid(DomainError, ValueError):
    """A plan document that cannot be used; ``reasons`` lists every problem, one sentence each."""

    def __init__(self, reasons: list[str]):
        super().__init__(" ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Leg:
    member: str          # the frontline IBO's member number
    name: str
    gv: Decimal
    rank: str | None     # their paid-as rank code this period


@dataclass(frozen=True)
class Requirement:
    text: str
    met: bool
    to_go: str | None


@dataclass(frozen=True)
class Qualification:
    rank: Rank | None
    next_rank: Rank | None
    requirements: tuple[Requirement, ...]
    missing: tuple[str, ...]


# --- reading and checking a document -------------------------------------------------------

def _figure(value, what: str, reasons: list[str]) -> Decimal:
    try:
        figure = Decimal(str(value))
    except (InvalidOperation, ValueError):
        reasons.append(f"{what} must be a number (got {value!r}).")
        return ZERO
    if not figure.is_finite():
        reasons.append(f"{what} must be a number (got {value!r}).")
        return ZERO
    if figure < 0:
        reasons.append(f"{what} cannot be negative.")
    elif figure > MAX_FIGURE:
        reasons.append(f"{what} is larger than any period's volume can be.")
    elif figure != figure.quantize(Decimal("0.01")):
        reasons.append(f"{what} has more than two decimal places.")
    return figure


def _read_rank(index: int, entry, reasons: list[str]) -> Rank | None:
    where = f"Rank {index + 1}"
    if not isinstance(entry, dict):
        reasons.append(f"{where} must be an object with code, name and requirements.")
        return None
    code = entry.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        reasons.append(f"{where} needs a code of lower-case letters, digits or _ "
                       f"(at most 20, starting with a letter).")
        code = f"#{index + 1}"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 40:
        reasons.append(f"{where} needs a name of 1 to 40 characters.")
        name = code
    where = f"{name.strip()}"
    min_pv = _figure(entry.get("min_pv", 0), f"{where}'s minimum PV", reasons)
    min_gv = _figure(entry.get("min_gv", 0), f"{where}'s minimum GV", reasons)
    share = entry.get("max_leg_share")
    if share is not None:
        share = _figure(share, f"{where}'s maximum share from one leg", reasons)
        if not ZERO < share <= 1:
            reasons.append(f"{where}'s maximum share from one leg must be above 0 and at most 1.")
        elif min_gv == 0:
            reasons.append(f"{where} limits the share from one leg but asks for no GV.")
    legs = []
    raw_legs = entry.get("legs", [])
    if not isinstance(raw_legs, list):
        reasons.append(f"{where}'s legs must be a list.")
        raw_legs = []
    for leg in raw_legs:
        if not isinstance(leg, dict) or not isinstance(leg.get("rank"), str):
            reasons.append(f"{where}'s leg requirements need a count and a rank.")
            continue
        count = leg.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1 or count > 1000:
            reasons.append(f"{where}'s number of legs at {leg['rank']} must be a whole number "
                           f"from 1 to 1000.")
            continue
        legs.append(LegRequirement(count=count, rank=leg["rank"]))
    if min_pv == 0 and min_gv == 0 and not legs:
        reasons.append(f"{where} asks for nothing: every IBO would hold it without any volume.")
    return Rank(code=code, name=name.strip(), min_pv=min_pv, min_gv=min_gv,
                max_leg_share=share, legs=tuple(legs))


def _check_leg_ranks(ranks: list[Rank], reasons: list[str]) -> None:
    """Unknown ranks, cycles, legs at the rank itself or above, ranks that can never be met."""
    level = {rank.code: index for index, rank in enumerate(ranks)}
    names = {rank.code: rank.name for rank in ranks}
    needs = {rank.code: [leg.rank for leg in rank.legs] for rank in ranks}

    reported_cycles: set[frozenset[str]] = set()

    def find_cycle(start: str) -> list[str] | None:
        path, seen = [start], {start}

        def walk(code: str) -> list[str] | None:
            for nxt in needs.get(code, []):
                if nxt == start:
                    return path + [start]
                if nxt in needs and nxt not in seen:
                    seen.add(nxt)
                    path.append(nxt)
                    found = walk(nxt)
                    if found:
                        return found
                    path.pop()
            return None

        return walk(start)

    for rank in ranks:
        for leg in rank.legs:
            if leg.rank not in level:
                reasons.append(f"{rank.name} asks for legs at {leg.rank!r}, which is not a rank "
                               f"of this plan.")
        cycle = find_cycle(rank.code)
        if cycle and frozenset(cycle) not in reported_cycles:
            reported_cycles.add(frozenset(cycle))
            reasons.append("A cycle in the leg requirements: " +
                           " needs legs at ".join(names[code] for code in cycle) + ".")
        elif not cycle:
            for leg in rank.legs:
                if leg.rank in level and level[leg.rank] > level[rank.code]:
                    reasons.append(f"{rank.name} asks for legs at {names[leg.rank]}, a higher rank; "
                                   f"legs must hold a lower rank.")

    # A rank is reachable when every rank its legs must hold is reachable (and known).
    reachable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for rank in ranks:
            if rank.code not in reachable and all(code in reachable for code in needs[rank.code]):
                reachable.add(rank.code)
                changed = True
    for rank in ranks:
        if rank.code not in reachable:
            reasons.append(f"{rank.name} can never be met: it needs legs at a rank nobody can hold.")


def _implies(lower: Rank, higher: Rank) -> bool:
    """Whoever meets ``lower`` surely meets ``higher`` too (so ``lower`` is never paid)."""
    if higher.min_pv > lower.min_pv or higher.min_gv > lower.min_gv:
        return False
    if higher.max_leg_share is not None and higher.min_gv > 0:
        if lower.max_leg_share is None or lower.max_leg_share * lower.min_gv > higher.max_leg_share * higher.min_gv:
            return False
    return all(any(own.rank == leg.rank and own.count >= leg.count for own in lower.legs)
               for leg in higher.legs)


def parse_plan(document) -> RankPlan:
    """The plan a document describes; ``PlanInvalid`` with every reason when it cannot work."""
    reasons: list[str] = []
    if not isinstance(document, dict) or not isinstance(document.get("ranks"), list):
        raise PlanInvalid(["The plan must be an object with a list of ranks, lowest first."])
    if not document["ranks"]:
        raise PlanInvalid(["The plan needs at least one rank."])
    if len(document["ranks"]) > 50:
        raise PlanInvalid(["A plan has at most 50 ranks."])
    ranks = [rank for index, entry in enumerate(document["ranks"])
             if (rank := _read_rank(index, entry, reasons)) is not None]
    seen_codes: set[str] = set()
    seen_names: set[str] = set()
    for rank in ranks:
        if rank.code in seen_codes:
            reasons.append(f"The code {rank.code!r} is used by two ranks.")
        if rank.name.lower() in seen_names:
            reasons.append(f"The name {rank.name!r} is used by two ranks.")
        seen_codes.add(rank.code)
        seen_names.add(rank.name.lower())
    if not reasons:
        _check_leg_ranks(ranks, reasons)
    if not reasons:
        for index, lower in enumerate(ranks):
            for higher in ranks[index + 1:]:
                if _implies(lower, higher):
                    reasons.append(f"{lower.name} can never be the paid-as rank: whoever meets it "
                                   f"meets {higher.name}, a higher rank, too.")
                    break
    if reasons:
        raise PlanInvalid(reasons)
    return RankPlan(ranks=tuple(ranks))


def _plain(figure: Decimal) -> str:
    return format(figure.normalize(), "f")


def plan_document(plan: RankPlan) -> dict:
    """The document ``parse_plan`` reads back into the same plan (JSON-ready)."""
    return {"ranks": [
        {"code": rank.code, "name": rank.name, "min_pv": _plain(rank.min_pv),
         "min_gv": _plain(rank.min_gv),
         "max_leg_share": None if rank.max_leg_share is None else _plain(rank.max_leg_share),
         "legs": [{"count": leg.count, "rank": leg.rank} for leg in rank.legs]}
        for rank in plan.ranks]}


# --- qualifying ---------------------------------------------------------------------------

def qualifying_gv(rank: Rank, *, pv: Decimal, legs: Sequence[Leg]) -> Decimal:
    """The GV that counts toward ``rank``: personal PV plus each leg's GV, a leg counting for at
    most ``max_leg_share`` x ``min_gv`` (the maximum-leg rule)."""
    if rank.max_leg_share is None:
        return pv + sum((leg.gv for leg in legs), ZERO)
    cap = rank.max_leg_share * rank.min_gv
    return pv + sum((min(leg.gv, cap) for leg in legs), ZERO)


def legs_holding(plan: RankPlan, legs: Sequence[Leg], wanted: str) -> int:
    return sum(1 for leg in legs if plan.at_least(leg.rank, wanted))


def _points(figure: Decimal) -> str:
    return number(int(figure)) if figure == figure.to_integral_value() else volume(figure)


def requirements_of(plan: RankPlan, rank: Rank, *, pv: Decimal, gv: Decimal,
                    legs: Sequence[Leg]) -> tuple[Requirement, ...]:
    """Each requirement of ``rank``, met or with what is still to go."""
    found = []
    if rank.min_pv > 0:
        short = rank.min_pv - pv
        found.append(Requirement(f"{_points(rank.min_pv)} PV", short <= 0,
                                 None if short <= 0 else f"{_points(short)} PV to go"))
    if rank.min_gv > 0:
        text = f"{_points(rank.min_gv)} GV"
        if rank.max_leg_share is not None:
            text += f", at most {_points(rank.max_leg_share * 100)}% from one leg"
        short = rank.min_gv - qualifying_gv(rank, pv=pv, legs=legs)
        found.append(Requirement(text, short <= 0,
                                 None if short <= 0 else f"{_points(short)} GV to go"))
    for leg in rank.legs:
        name = plan.rank(leg.rank).name
        short = leg.count - legs_holding(plan, legs, leg.rank)
        text = f"{leg.count} leg{'s' if leg.count != 1 else ''} at {name}"
        found.append(Requirement(text, short <= 0, None if short <= 0 else
                                 f"{short} more leg{'s' if short != 1 else ''} at {name}"))
    return tuple(found)


def meets(plan: RankPlan, rank: Rank, *, pv: Decimal, legs: Sequence[Leg]) -> bool:
    # A figure of zero asks for nothing: a refund that leaves PV or GV below zero does not
    # take away a rank that never asked for them.
    return ((not rank.min_pv or pv >= rank.min_pv)
            and (not rank.min_gv or qualifying_gv(rank, pv=pv, legs=legs) >= rank.min_gv)
            and all(legs_holding(plan, legs, leg.rank) >= leg.count for leg in rank.legs))


def paid_as(plan: RankPlan, *, pv: Decimal, legs: Sequence[Leg]) -> Rank | None:
    """The highest rank whose requirements are all met."""
    for rank in reversed(plan.ranks):
        if meets(plan, rank, pv=pv, legs=legs):
            return rank
    return None


def qualify(plan: RankPlan, *, pv: Decimal, gv: Decimal, legs: Sequence[Leg]) -> Qualification:
    """Paid-as rank, the next rank and where the person stands on each of its requirements.

    ``gv`` is the person's PV plus their legs' GV; it is shown, and the rule reads the legs."""
    rank = paid_as(plan, pv=pv, legs=legs)
    level = -1 if rank is None else plan.ranks.index(rank)
    next_rank = plan.ranks[level + 1] if level + 1 < len(plan.ranks) else None
    if next_rank is None:
        return Qualification(rank, None, (), ())
    requirements = requirements_of(plan, next_rank, pv=pv, gv=gv, legs=legs)
    return Qualification(rank, next_rank, requirements,
                         tuple(r.to_go for r in requirements if not r.met))


# A unilevel plan of six ranks: the volume an IBO moves themselves, their group's volume with no
# more than part of it from one leg, and from Silver up, legs that have ranks of their own.
EXAMPLE_PLAN: dict = {"ranks": [
    {"code": "associate", "name": "Associate", "min_pv": "50", "min_gv": "0",
     "max_leg_share": None, "legs": []},
    {"code": "bronze", "name": "Bronze", "min_pv": "100", "min_gv": "500",
     "max_leg_share": None, "legs": []},
    {"code": "silver", "name": "Silver", "min_pv": "100", "min_gv": "2000",
     "max_leg_share": "0.6", "legs": [{"count": 2, "rank": "associate"}]},
    {"code": "gold", "name": "Gold", "min_pv": "150", "min_gv": "6000",
     "max_leg_share": "0.5", "legs": [{"count": 2, "rank": "bronze"}]},
    {"code": "platinum", "name": "Platinum", "min_pv": "200", "min_gv": "20000",
     "max_leg_share": "0.4", "legs": [{"count": 3, "rank": "silver"}]},
    {"code": "diamond", "name": "Diamond", "min_pv": "200", "min_gv": "60000",
     "max_leg_share": "0.35", "legs": [{"count": 3, "rank": "gold"}]},
]}
