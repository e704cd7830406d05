"""The rank plan's versions: which one is in force for a period, and saving a new one.

Until an admin (or ``seed demo``) saves a version, the example plan is in force, as an unsaved
version 0, so that volume can be computed on a fresh database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.volume.models import RankPlanVersion, VolumePeriod
from portal.volume.periods import period_name
from portal.volume.plan import EXAMPLE_PLAN, PlanInvalid, RankPlan, parse_plan, plan_document

EXAMPLE_EFFECTIVE_FROM = date(2000, 1, 1)


def example_version() -> RankPlanVersion:
    """The example plan as an unsaved version 0 (never added to a session)."""
    return RankPlanVersion(id=None, version=0, effective_from=EXAMPLE_EFFECTIVE_FROM,
                           document=EXAMPLE_PLAN, note="The example plan (no plan saved yet).")


def plan_in_force(session: Session, period: date) -> tuple[RankPlanVersion, RankPlan]:
    """The version in force for ``period`` (the highest whose effective_from is on or before
    it) and its plan."""
    version = session.scalars(
        select(RankPlanVersion).where(RankPlanVersion.effective_from <= period)
        .order_by(RankPlanVersion.version.desc()).limit(1)).first()
    if version is None:
        version = example_version()
    return version, parse_plan(version.document)


def latest_plan(session: Session) -> tuple[RankPlanVersion, RankPlan]:
    """The newest version, whatever period it starts in (its ranks order highest ranks ever)."""
    version = session.scalars(select(RankPlanVersion).order_by(RankPlanVersion.version.desc())
                              .limit(1)).first()
    if version is None:
        version = example_version()
    return version, parse_plan(version.document)


def plan_versions(session: Session) -> list[RankPlanVersion]:
    return list(session.scalars(select(RankPlanVersion).order_by(RankPlanVersion.version.desc())))


def save_plan(session: Session, document, *, effective_from: date, actor: User | None,
              note: str = "") -> RankPlanVersion:
    """Save ``document`` as the next version, in force from the period ``effective_from``.

    Raises ``PlanInvalid`` with every reason (nothing saved) for a plan that cannot work or a
    start in a closed period, whose volume never changes."""
    plan = parse_plan(document)
    reasons = []
    if effective_from.day != 1:
        reasons.append("A plan takes effect on the first day of a period.")
    closed = session.scalar(select(func.max(VolumePeriod.period)).where(
        VolumePeriod.status == "closed"))
    if closed is not None and effective_from <= closed:
        reasons.append(f"{period_name(closed)} is closed: a new plan can take effect from the "
                       f"period after it.")
    if reasons:
        raise PlanInvalid(reasons)
    # Versions are numbered one after the other: two admins saving at once are served in turn.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('rank_plan_versions'))"))
    number = (session.scalar(select(func.max(RankPlanVersion.version))) or 0) + 1
    version = RankPlanVersion(version=number, effective_from=effective_from,
                              document=plan_document(plan), note=(note or "")[:500],
                              created_by_id=actor.id if actor is not None else None)
    session.add(version)
    session.flush()
    return version
