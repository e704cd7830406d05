"""The member page: a member's whole story for the staff, one section per concern."""

import pytest
from sqlalchemy import select

from portal.accounts.models import AuditEntry
from portal.support import member_page
from portal.support.models import StaffNote
from tests.conftest import log_in, page_text, post_form
from tests.world import build_world


@pytest.fixture
def world(session, redis):
    return build_world(session, redis)


@pytest.mark.parametrize("staff", ["admin", "support"])
def test_staff_see_every_section_of_the_members_story(client, world, staff):
    things = world.of(world.owner)
    log_in(client, getattr(world, staff))
    response = client.get(f"/admin/members/{world.owner.member_number}")
    assert response.status_code == 200
    text = page_text(response.get_data(as_text=True))
    shown = {
        "identity": ["Olive Owner", world.owner.email, "Sponsor Uma Upline", "12 Olive Lane"],
        "standing orders and next runs": ["Monthly essentials", "Active"],
        "orders with status": [things.order.number, things.failed_order.number, "Paid"],
        "payments and declines": [f"Visa ending {things.card.last4}", "Declined"],
        "mail": [things.mail.subject],
        "1-Click browsers": ["Firefox on Linux: on since"],
        "notes": ["Add the note", "No notes yet."],
        "audit": ["Nobody from the staff has acted for this member."],
        "volume this period": ["PV"],
        "refunds": ["$5.95", "Pending"],   # the world's shipping refund the gateway has not answered
        "loyalty points": ["points", "rate"],
    }
    missing = {section: [t for t in texts if t not in text] for section, texts in shown.items()}
    assert {k: v for k, v in missing.items() if v} == {}
    assert [s.title for s in member_page.SECTIONS] == [
        "Member", "Standing orders", "Orders", "Payments and declines", "Refunds", "Loyalty points",
        "Mail sent", "1-Click browsers", "Staff notes", "Audit log"]
    assert all(f'id="{s.name}"' in response.get_data(as_text=True) for s in member_page.SECTIONS)


@pytest.mark.parametrize("persona", ["owner", "upline", "other"])
def test_members_and_ibos_cannot_see_member_pages(client, world, persona):
    log_in(client, getattr(world, persona))
    assert client.get(f"/admin/members/{world.owner.member_number}").status_code == 403
    assert client.get("/admin/members").status_code == 403


def test_an_unknown_member_number_is_a_404(client, world):
    log_in(client, world.support)
    assert client.get("/admin/members/99999999").status_code == 404


def test_staff_add_a_note_which_the_page_shows_with_its_author(client, session, world):
    log_in(client, world.support)
    page = f"/admin/members/{world.owner.member_number}"
    response = post_form(client, f"{page}/notes", {"body": "  Prefers calls after 5 pm.  "}, page=page)
    assert response.status_code == 303 and response.headers["Location"] == f"{page}#notes"
    notes = session.scalars(select(StaffNote)).all()
    assert [(n.body, n.author_id, n.member_id) for n in notes] == \
        [("Prefers calls after 5 pm.", world.support.id, world.owner.id)]
    text = page_text(client.get(page).get_data(as_text=True))
    assert "Sam Support Prefers calls after 5 pm." in text
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.area == "notes")) == "note added"


def test_an_empty_note_is_refused_beside_the_field(client, session, world, htmx):
    log_in(client, world.support)
    page = f"/admin/members/{world.owner.member_number}"
    response = post_form(client, f"{page}/notes", {"body": "   "}, page=page)
    assert response.status_code == 422 and "Write the note first." in response.get_data(as_text=True)
    assert session.scalars(select(StaffNote)).all() == []


def test_with_htmx_adding_a_note_answers_the_notes_section_alone(client, session, world):
    log_in(client, world.admin)
    page = f"/admin/members/{world.owner.member_number}"
    response = post_form(client, f"{page}/notes", {"body": "Called about the May box."}, page=page,
                         headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith(("{", "<article id=\"notes\"")) or '<article id="notes">' in body
    assert "<html" not in body and "Called about the May box." in body and "Note added." in body


def test_the_page_shows_what_staff_did_for_the_member(client, session, world):
    log_in(client, world.support)
    page = f"/admin/members/{world.owner.member_number}"
    post_form(client, f"{page}/act", page=page)
    post_form(client, "/admin/acting/stop", page=page)
    text = page_text(client.get(page).get_data(as_text=True))
    assert "by Sam Support: started acting for the member" in text
    assert "by Sam Support: stopped acting for the member" in text
