"""The confirmation before a standing-order change that takes PV out of the current period
(a skip, a pause, a later date): how much leaves, and what it does to the person's paid-as rank
and their sponsor's (``portal.volume.qualification_notes``). A change that takes nothing out of
the period goes ahead without a question. Kept apart from the other confirmations' wording so
that each concept adds its own sentences."""

from __future__ import annotations

from flask import url_for
from htmx_flask import request

from portal.acting import shopper
from portal.autoship import profiles
from portal.clock import company_today
from portal.confirmations import Question, ask_all, confirmed
from portal.extensions import db
from portal.formatting import volume
from portal.volume.qualification_notes import pv_leaving, qualification_note

BUTTONS = {"skip": "Yes, skip it", "pause": "Yes, pause it", "move": "Yes, change the date"}
ENDPOINTS = {"skip": "autoship.skip", "pause": "autoship.pause", "move": "autoship.change_next_date"}


def ask_if_volume_leaves(profile_id: int, change: str, form, **details):
    """The confirmation page when ``change`` takes PV out of the period (``volume_question``);
    None when it asks nothing."""
    return ask_all(volume_question(profile_id, change, form, **details))


def volume_question(profile_id: int, change: str, form, **details) -> Question | None:
    """The question when ``change`` (with ``details``: day, resume_on or new_date) takes PV out
    of the period; None once confirmed, when it takes none, or when the form is not valid (the
    change's own checks then answer)."""
    if confirmed() or not form.validate_on_submit():
        return None
    if change == "move":
        details["move_anchor"] = form.mode.data == "anchor"
    profile = profiles.owned_profile(db.session, shopper, profile_id)
    today = company_today()
    leaving = pv_leaving(db.session, profile, change, today=today, **details)
    note = qualification_note(db.session, shopper, leaving, today=today)
    if note is None:
        return None
    fields = {name: value for name, value in request.form.items() if name not in ("csrf_token", "confirm")}
    return Question(title=f"Take {volume(note.pv)} PV out of this month?" if not note.costs_rank
                    else "This change costs a rank this month",
                    consequences=list(note.sentences), button=BUTTONS[change],
                    action=url_for(ENDPOINTS[change], profile_id=profile_id),
                    back=url_for("autoship.profile", profile_id=profile_id),
                    back_label="No, keep the shipment", fields=fields)
