"""The services behind acting for a member and the audit log, called directly."""

import pytest
from sqlalchemy import select

from portal.accounts.login_sessions import Lifetimes, start_login_session
from portal.accounts.models import AuditEntry, LoginSession
from portal.autoship import lifecycle
from portal.autoship.models import AutoshipEvent
from portal.autoship.profiles import AutoshipRules
from portal.clock import company_today, utcnow
from portal.errors import Forbidden, NotFound
from portal.mail.models import OutboxMessage
from portal.support.acting_sessions import ActingError, start_acting, stop_acting
from portal.support.notes import NoteError, add_note
from tests.factories import make_admin, make_ibo, make_support, make_user
from tests.world import build_world


def login_of(app, session, person) -> LoginSession:
    login, _identifier = start_login_session(session, user=person, label="test", remember=False,
                                             now=utcnow(), lifetimes=Lifetimes.from_config(app.config))
    return login


def actions(session):
    return [(e.action, e.member_id) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_acting_for_another_member_stops_acting_for_the_first(app, session):
    staff, jane, john = make_support(session), make_user(session), make_ibo(session)
    login = login_of(app, session, staff)
    start_acting(session, actor=staff, login_session_id=login.id, member=jane)
    start_acting(session, actor=staff, login_session_id=login.id, member=jane)  # again: nothing new
    start_acting(session, actor=staff, login_session_id=login.id, member=john)
    assert login.acting_for_id == john.id
    assert stop_acting(session, actor=staff, login_session_id=login.id) == john
    assert stop_acting(session, actor=staff, login_session_id=login.id) is None
    assert actions(session) == [("started acting for the member", jane.id),
                                ("stopped acting for the member", jane.id),
                                ("started acting for the member", john.id),
                                ("stopped acting for the member", john.id)]


def test_only_staff_act_and_only_for_active_shoppers_in_their_own_session(app, session):
    staff, member, admin = make_admin(session), make_user(session), make_admin(session)
    with pytest.raises(Forbidden):
        start_acting(session, actor=member, login_session_id=login_of(app, session, member).id,
                     member=make_user(session))
    with pytest.raises(ActingError):
        start_acting(session, actor=staff, login_session_id=login_of(app, session, staff).id, member=admin)
    member.active = False
    with pytest.raises(ActingError):
        start_acting(session, actor=staff, login_session_id=login_of(app, session, staff).id, member=member)
    with pytest.raises(NotFound):  # somebody else's signed-in session
        start_acting(session, actor=staff, login_session_id=login_of(app, session, admin).id,
                     member=make_user(session))
    assert actions(session) == []


def test_a_change_by_staff_keeps_the_standing_order_before_and_after_and_tells_the_member(session, redis):
    world = build_world(session, redis)
    profile = world.of(world.owner).profile
    lifecycle.pause(session, user=world.owner, actor=world.support, profile=profile, resume_on=None,
                    today=company_today(), rules=AutoshipRules())
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor_id, entry.member_id, entry.area, entry.action) == \
        (world.support.id, world.owner.id, "autoship", "paused")
    assert entry.before.startswith("“Monthly essentials”, active;")
    assert entry.after.startswith("“Monthly essentials”, paused;")
    event = session.scalars(select(AutoshipEvent).order_by(AutoshipEvent.id.desc())).first()
    assert event.actor_id == world.support.id
    mail = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert (mail.user_id, mail.subject) == (world.owner.id, "Your standing order “Monthly essentials” was changed")


def test_the_members_own_change_is_history_only(session, redis):
    world = build_world(session, redis)
    profile = world.of(world.owner).profile
    mails = session.scalars(select(OutboxMessage)).all()
    lifecycle.rename(session, user=world.owner, actor=world.owner, profile=profile, name="Mine")
    lifecycle.rename(session, user=world.owner, profile=profile, name="Mine again")
    assert session.scalars(select(AuditEntry)).all() == []
    assert session.scalars(select(OutboxMessage)).all() == mails


@pytest.mark.parametrize("body, message", [("   ", "Write the note first."),
                                           ("x" * 2001, "A note holds at most 2,000 characters.")])
def test_a_note_needs_words_and_no_more_than_fit(session, body, message):
    with pytest.raises(NoteError, match=message):
        add_note(session, actor=make_support(session), member=make_user(session), body=body)
