"""Where a person's volume is heading: this period's standing, plus what the scheduled standing
orders of the person and their group are expected to bring before the period ends.

The expected PV is the team totals' forecast (``portal.autoship.expected_volume``: active
standing orders with a stored cycle PV, stepped through their schedules, an overdue run counting
today), read here per leg instead of per level: one statement over the person's subtree, grouped
by the frontline person each standing order is under and by distinct schedule. A frontline
member's standing orders count in the person's own PV (customers' volume is their sponsor's); a
frontline IBO's, in that leg. Leg ranks stay as computed for the period so far: the projection
says what the group's volume would qualify for, not what each leg will reach.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from portal.accounts.models import Role, User
from portal.autoship.expected_volume import counts_by, expected_pv, schedule_key, stored_pv
from portal.autoship.models import AutoshipProfile
from portal.genealogy.queries import downline_bounds
from portal.volume.periods import add_months
from portal.volume.plan import Leg, Qualification, qualify

OWN = ""  # the key of the person's own standing orders (and, mapped, their frontline members')


@dataclass(frozen=True)
class Projection:
    """The standing as it would be at the period's end with the scheduled orders."""
    period: date
    scheduled_pv: Decimal   # what the person's own and their customers' standing orders add
    scheduled_gv: Decimal   # what the whole group's standing orders add
    pv: Decimal
    gv: Decimal
    legs: tuple[Leg, ...]
    qualification: Qualification

    @property
    def rank(self):
        return self.qualification.rank


def period_end(period: date) -> date:
    return add_months(period, 1) - timedelta(days=1)


def scheduled_by_frontline(session: Session, person: User, *, today: date,
                           end: date) -> tuple[Decimal, dict[str, tuple[str, Decimal]]]:
    """PV expected from ``today`` to ``end``: from the standing orders of ``person`` and of the
    customers they sponsor, and from each frontline IBO's whole branch (member number -> name,
    PV)."""
    low, high = downline_bounds(person.tree_path)
    member, p = aliased(User), aliased(AutoshipProfile)
    # The id of the frontline person a path runs through: the component after the person's own.
    profiles = (select(func.split_part(member.tree_path, "/", person.depth + 3).label("frontline"),
                       p.id.label("profile_id"), p.status, p.rrule, p.anchor_date, p.regularity,
                       p.next_run_date, stored_pv(p).label("pv"))
                .select_from(member).join(p, p.user_id == member.id)
                .where(member.tree_path >= low, member.tree_path < high).cte("group_profiles"))
    schedule = (profiles.c.frontline, *schedule_key(profiles.c, profiles.c.profile_id, today))
    rows = session.execute(
        select(*schedule, func.count(), func.sum(profiles.c.pv))
        .where(counts_by(profiles.c.status, profiles.c.next_run_date, profiles.c.pv, end))
        .group_by(*schedule)).all()
    hundredths, _runs, _walks = expected_pv(session, rows, today, end)
    ids = {int(key) for key, _month in hundredths if key}
    frontline = {row.id: row for row in session.execute(
        select(User.id, User.member_number, User.role, User.first_name, User.last_name).where(User.id.in_(ids)))} if ids else {}
    own, legs = Decimal(0), {}
    for (key, _month), value in hundredths.items():
        amount = Decimal(value) / 100
        who = frontline.get(int(key)) if key else None
        if who is None or who.role != Role.IBO:
            # the person's own, or a customer's: their sponsor's PV (never a member's downline)
            if who is None or person.role == Role.IBO:
                own += amount
        else:
            _name, before = legs.get(who.member_number, ("", Decimal(0)))
            legs[who.member_number] = (f"{who.first_name} {who.last_name}", before + amount)
    return own, legs


def project_standing(session: Session, person: User, standing, *, today: date) -> Projection | None:
    """``standing`` (``portal.volume.standing.Standing`` of the period that holds ``today``)
    projected to the period's end; None for a past period or a person outside the tree."""
    if person.tree_path is None or standing.period != today.replace(day=1):
        return None
    own, by_leg = scheduled_by_frontline(session, person, today=today, end=period_end(standing.period))
    known = {leg.member for leg in standing.legs}
    legs = [replace(leg, gv=leg.gv + by_leg.get(leg.member, ("", Decimal(0)))[1]) for leg in standing.legs]
    legs += [Leg(member=number, name=name, gv=amount, rank=None)  # no volume yet this period
             for number, (name, amount) in by_leg.items() if number not in known]
    legs = tuple(sorted(legs, key=lambda leg: leg.gv, reverse=True))
    group = own + sum((amount for _name, amount in by_leg.values()), Decimal(0))
    pv, gv = standing.pv + own, standing.gv + group
    return Projection(period=standing.period, scheduled_pv=own, scheduled_gv=group, pv=pv, gv=gv,
                      legs=legs, qualification=qualify(standing.plan, pv=pv, gv=gv, legs=legs))
