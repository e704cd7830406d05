"""What the standing-order pages show of loyalty points: the summary on the list, the choice to
pay a standing order with points, and the question before a skip or pause that would end the
points streak (it changes nothing until the person confirms)."""

from __future__ import annotations

from datetime import date

from flask import current_app, url_for

from portal.acting import shopper
from portal.autoship import profiles, queries
from portal.clock import company_today
from portal.confirmations import Question, confirmed
from portal.extensions import db
from portal.formatting import day, volume
from portal.loyalty.program import current_program
from portal.loyalty.queries import points_statement
from portal.loyalty.standing import uses_points
from portal.loyalty.streaks import month_that_breaks, qualifying_months, streak_of


def points_summary():
    return points_statement(db.session, shopper.id, timezone=current_app.config["COMPANY_TIMEZONE"],
                            limit=0)


def points_context(profile) -> dict:
    return {"points_choice": uses_points(db.session, profile.id), "points": points_summary()}


def streak_question(profile_id: int, *, skipping: date | None = None, pausing: bool = False,
                    resume_on: date | None = None) -> Question | None:
    """The question when skipping ``skipping`` (or pausing until ``resume_on``, or for good)
    would leave a month without a qualifying shipment while the person's streak needs one;
    None when it would not, or once the person confirmed."""
    if confirmed() or (skipping is None and not pausing):
        return None
    profile = profiles.owned_profile(db.session, shopper, profile_id)
    today, zone = company_today(), current_app.config["COMPANY_TIMEZONE"]
    program = current_program(db.session)
    streak = streak_of(qualifying_months(db.session, shopper.id, program=program, timezone=zone), today)
    if not streak.alive:
        return None
    runs = [(run, p) for run, p in queries.upcoming_for_person(db.session, shopper, today)
            if p.cycle_pv is not None and program.qualifies(p.cycle_pv)]

    def removed(run: date, p) -> bool:
        if p.id != profile.id:
            return False
        return run == skipping if skipping else (resume_on is None or run < resume_on)

    month = month_that_breaks(streak, today, [run for run, _ in runs],
                              [run for run, p in runs if not removed(run, p)])
    if month is None:
        return None
    first = program.ladder[0].percent
    consequences = [
        f"Your points streak is at month {streak.months}. With this change no standing order of "
        f"{volume(program.minimum_pv)} PV or more ships in {day(month, 'month')}, "
        f"so the streak ends and your rate goes back to {first}%.",
        "Points you already have stay yours."]
    if skipping:
        return Question(title=f"Skip {day(skipping, 'long')} and end your points streak?",
                         consequences=consequences,
                         action=url_for("autoship.skip", profile_id=profile.id),
                         button="Yes, skip it", back=url_for("autoship.profile", profile_id=profile.id),
                         back_label="No, keep the shipment", fields={"day": skipping.isoformat()})
    return Question(title="Pause and end your points streak?", consequences=consequences,
                     action=url_for("autoship.pause", profile_id=profile.id), button="Yes, pause it",
                     back=url_for("autoship.profile", profile_id=profile.id),
                     back_label="No, keep it active",
                     fields={"resume_on": resume_on.isoformat() if resume_on else ""})
