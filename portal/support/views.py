"""The staff's member pages (admins and support): the search, a member's page with its
sections, staff notes, and starting and stopping acting for a member."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, url_for
from flask_login import current_user
from htmx_flask import request

from portal.acting import acting_for
from portal.clock import company_today, utcnow
from portal.errors import NotFound
from portal.extensions import db
from portal.roles import staff_required
from portal.support import acting_sessions, member_page, notes, search
from portal.support.forms import NoteForm
from portal.templating import render
from portal.unit_of_work import refusal

bp = Blueprint("support", __name__, url_prefix="/admin")


@bp.before_request
@staff_required
def only_staff():
    return None


@bp.get("/members")
def members():
    text, role = search.tidy(request.args.get("q", "")), request.args.get("role", "")[:10]
    found = search.find_members(db.session, text, role=role,
                                limit=int(current_app.config["MEMBER_SEARCH_LIMIT"]))
    return render("support/members.html", "support/_results.html", found=found, q=text, role=role)


def _member(member_number: str):
    member = member_page.member_by_number(db.session, member_number)
    if member is None:
        raise NotFound("No member has that number.")
    return member


def _member_view(member) -> member_page.MemberView:
    return member_page.MemberView(session=db.session, member=member, today=company_today(),
                                  now=utcnow(), config=current_app.config)


@bp.get("/members/<member_number>")
def member(member_number: str, note_form: NoteForm | None = None, status: int = 200):
    person = _member(member_number)
    return render("support/member.html", member=person, status=status,
                  sections=member_page.load_sections(_member_view(person)),
                  note_form=note_form or NoteForm(formdata=None))


@bp.post("/members/<member_number>/notes")
def add_note(member_number: str):
    person = _member(member_number)
    form = NoteForm()
    if form.validate_on_submit():
        with refusal(form):
            notes.add_note(db.session, actor=current_user, member=person, body=form.body.data)
            if request.htmx:
                return render("support/_notes.html", member=person, note_form=NoteForm(formdata=None),
                              section_title="Staff notes", message="Note added.",
                              data=member_page.notes(_member_view(person)))
            flash("Note added.", "success")
            return redirect(url_for("support.member", member_number=person.member_number,
                                    _anchor="notes"), 303)
    if request.htmx:
        return render("support/_notes.html", member=person, note_form=form, status=422,
                      section_title="Staff notes", data=member_page.notes(_member_view(person)))
    return member(member_number, note_form=form, status=422)


@bp.post("/members/<member_number>/act")
def start_acting(member_number: str):
    """Act for the member in this browser: their standing orders, addresses and cart, on their
    own pages, until Stop (portal/acting.py)."""
    person = _member(member_number)
    acting_sessions.start_acting(db.session, actor=current_user, member=person,
                                 login_session_id=g.get("login_session_id"))
    flash(f"You are acting for {person.full_name}. Every change you make is recorded as yours, "
          "for them, and they are told of changes to their standing orders.", "success")
    return redirect(url_for("autoship.index"), 303)


@bp.post("/acting/stop")
def stop_acting():
    member = acting_sessions.stop_acting(db.session, actor=current_user,
                                         login_session_id=g.get("login_session_id"))
    if member is None:
        return redirect(url_for("support.members"), 303)
    flash(f"You stopped acting for {member.full_name}.", "success")
    return redirect(url_for("support.member", member_number=member.member_number), 303)


@bp.app_context_processor
def acting_banner() -> dict:
    """The member a staff member is acting for, for the banner on every page."""
    return {"acting_member": acting_for()}
