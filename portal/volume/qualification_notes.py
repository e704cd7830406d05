"""What a change to a standing order does to qualification, said before it is made.

A skip, a pause or a later date can take a run out of the current period. The PV leaving is the
standing order's stored cycle PV times the runs the period loses, the runs counted by the team
totals' rule (``portal.autoship.expected_volume.run_dates``) before and after the change. What
it costs is then read off the projection to the period's end (``portal.volume.projection``):
``qualify`` on the person's projected standing with that PV removed (an IBO's own paid-as rank)
and on their sponsor's, where the PV leaves the sponsor's PV (a customer's order) or one leg's
GV (an IBO's, whose rank as a leg is the one just computed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import Role, User
from portal.autoship.expected_volume import run_dates
from portal.autoship.models import AutoshipProfile, AutoshipSkip, ProfileStatus
from portal.autoship.schedule import Schedule
from portal.formatting import volume
from portal.volume.periods import period_name
from portal.volume.plan import Qualification, qualify
from portal.volume.projection import period_end, project_standing
from portal.volume.standing import standing_of

SKIP, PAUSE, MOVE = "skip", "pause", "move"


@dataclass(frozen=True)
class QualificationNote:
    period: date
    pv: Decimal                    # PV leaving the period
    sentences: tuple[str, ...]
    costs_rank: bool               # the owner's or their sponsor's projected rank drops


def pv_leaving(session: Session, profile: AutoshipProfile, change: str, *, today: date,
               day: date | None = None, resume_on: date | None = None,
               new_date: date | None = None, move_anchor: bool = False) -> Decimal:
    """The PV that ``change`` (SKIP ``day``, PAUSE until ``resume_on``, MOVE the next run to
    ``new_date``) takes out of the period holding ``today``: nothing for a standing order that
    brings no run in it."""
    if profile.status != ProfileStatus.ACTIVE or profile.cycle_pv is None or profile.next_run_date is None:
        return Decimal(0)
    end = period_end(today.replace(day=1))
    skips = frozenset(session.scalars(select(AutoshipSkip.skip_date).where(
        AutoshipSkip.profile_id == profile.id, AutoshipSkip.skip_date >= today)))
    rule = (profile.rrule, profile.anchor_date, profile.regularity)
    before = run_dates(*rule, profile.next_run_date, skips, today, end)
    if change == SKIP:
        after = list(before)
        if day in after:
            after.remove(day)
    elif change == PAUSE:
        after = []
        if resume_on is not None:
            try:
                first = Schedule.of(*rule, skips).first_on_or_after(resume_on)
            except ValueError:
                first = None
            if first is not None:
                after = run_dates(*rule, first, skips, max(today, resume_on), end)
    elif change == MOVE and new_date is not None:
        anchor = new_date if move_anchor else profile.anchor_date
        after = run_dates(profile.rrule, anchor, profile.regularity, new_date, skips, today, end)
    else:
        after = before
    lost = max(0, len(before) - len(after))
    return Decimal(profile.cycle_pv) * lost


def _rank_name(q: Qualification) -> str:
    return q.rank.name if q.rank else "no rank"


def _movement(plan, before: Qualification, after: Qualification) -> int:
    return plan.level(after.rank.code if after.rank else None) - plan.level(
        before.rank.code if before.rank else None)


def qualification_note(session: Session, owner: User, pv: Decimal, *, today: date,
                       viewer_is_owner: bool = True, happened: bool = False) -> QualificationNote | None:
    """What taking ``pv`` out of the current period's projection does to ``owner``'s paid-as
    rank (an IBO) and to their sponsor's; None when no PV leaves. ``viewer_is_owner``: the
    sentences speak to the owner ("your"), else about them (an upline reading the note).
    ``happened``: the change is made already (the projection no longer holds ``pv``), so the
    rank before it is the one with ``pv`` added back."""
    if pv <= 0:
        return None
    period = today.replace(day=1)
    name = period_name(period)
    whose = "Your" if viewer_is_owner else f"{owner.first_name} {owner.last_name}'s"
    back = pv if happened else Decimal(0)   # what the projection lacks of the "before"
    sentences = [f"This {'took' if happened else 'takes'} {volume(pv)} PV out of {name}."]
    costs = False
    own_before = own_after = None
    standing = standing_of(session, owner, period)
    projected = project_standing(session, owner, standing, today=today)
    if owner.role == Role.IBO and projected is not None:
        plan = standing.plan
        start_pv, start_gv = projected.pv + back, projected.gv + back
        own_before = qualify(plan, pv=start_pv, gv=start_gv, legs=projected.legs)
        own_after = qualify(plan, pv=start_pv - pv, gv=start_gv - pv, legs=projected.legs)
        sentences.append(f"{whose} projected PV for {name} goes from {volume(start_pv)} "
                         f"to {volume(start_pv - pv)}.")
        moved = _movement(plan, own_before, own_after)
        if moved < 0:
            costs = True
            sentences.append(f"{whose} projected paid-as rank drops from "
                             f"{_rank_name(own_before)} to {_rank_name(own_after)}.")
        else:
            sentences.append(f"{whose} projected paid-as rank stays {_rank_name(own_before)}.")
    sponsor = session.get(User, owner.sponsor_id) if owner.sponsor_id else None
    if sponsor is not None and sponsor.role == Role.IBO:
        s_standing = standing_of(session, sponsor, period)
        s_projected = project_standing(session, sponsor, s_standing, today=today)
        if s_projected is not None:
            plan = s_standing.plan
            if owner.role == Role.IBO and own_before is not None:
                def legs_with(q: Qualification, change: Decimal):
                    return tuple(replace(leg, gv=leg.gv + change, rank=q.rank.code if q.rank else None)
                                 if leg.member == owner.member_number else leg for leg in s_projected.legs)
                s_before = qualify(plan, pv=s_projected.pv, gv=s_projected.gv + back,
                                   legs=legs_with(own_before, back))
                s_after = qualify(plan, pv=s_projected.pv, gv=s_projected.gv + back - pv,
                                  legs=legs_with(own_after, back - pv))
            else:
                s_before = qualify(plan, pv=s_projected.pv + back, gv=s_projected.gv + back,
                                   legs=s_projected.legs)
                s_after = qualify(plan, pv=s_projected.pv + back - pv, gv=s_projected.gv + back - pv,
                                  legs=s_projected.legs)
            sponsor_name = f"{sponsor.first_name} {sponsor.last_name}"
            who = f"Your sponsor {sponsor_name}'s" if viewer_is_owner else f"Their sponsor {sponsor_name}'s"
            if _movement(plan, s_before, s_after) < 0:
                costs = True
                sentences.append(f"{who} projected paid-as rank drops from {_rank_name(s_before)} "
                                 f"to {_rank_name(s_after)}.")
            else:
                sentences.append(f"{who} projected paid-as rank does not change.")
    return QualificationNote(period=period, pv=pv, sentences=tuple(sentences), costs_rank=costs)


def pv_left(session: Session, profile: AutoshipProfile, *, today: date) -> Decimal:
    """The PV a paused or cancelled standing order no longer brings to the period holding
    ``today``: its runs there had it stayed active, less those after a pause's resume date."""
    if profile.status not in (ProfileStatus.PAUSED, ProfileStatus.CANCELLED) or profile.cycle_pv is None \
            or profile.next_run_date is None:
        return Decimal(0)
    end = period_end(today.replace(day=1))
    rule = (profile.rrule, profile.anchor_date, profile.regularity)
    planned = run_dates(*rule, max(profile.next_run_date, today), frozenset(), today, end)
    kept = []
    if profile.status == ProfileStatus.PAUSED and profile.paused_until is not None:
        try:
            first = Schedule.of(*rule).first_on_or_after(profile.paused_until)
        except ValueError:
            first = None
        if first is not None:
            kept = run_dates(*rule, first, frozenset(), max(today, profile.paused_until), end)
    return Decimal(profile.cycle_pv) * max(0, len(planned) - len(kept))


def attention_notes(session: Session, profile_ids: list[int], *, today: date) -> dict[int, tuple[str, ...]]:
    """For the upline's attention list: of the paused or cancelled standing orders among
    ``profile_ids``, those whose lost PV costs their owner or the owner's sponsor a rank this
    period, with the note's sentences."""
    notes: dict[int, tuple[str, ...]] = {}
    if not profile_ids:
        return notes
    for profile in session.scalars(select(AutoshipProfile).where(
            AutoshipProfile.id.in_(profile_ids),
            AutoshipProfile.status.in_((ProfileStatus.PAUSED, ProfileStatus.CANCELLED)))):
        owner = session.get(User, profile.user_id)
        note = qualification_note(session, owner, pv_left(session, profile, today=today), today=today,
                                  viewer_is_owner=False, happened=True)
        if note is not None and note.costs_rank:
            notes[profile.id] = note.sentences
    return notes
