"""Jobs reach Redis only once the change is committed, and a Redis that cannot take them
never turns a committed change into an error."""

from __future__ import annotations

import pytest

from portal.mail.models import OutboxMessage
from portal.mail.services import queue_mail
from tests.factories import make_user

pytestmark = pytest.mark.server  # a Redis that does not answer


def test_a_job_redis_cannot_take_is_logged_and_the_commit_stands(session, redis_down, caplog):
    member = make_user(session)
    message = queue_mail(session, user=member, subject="Hello", body="Body")
    session.commit()  # no exception: the message waits in the outbox for deliver_waiting
    assert session.get(OutboxMessage, message.id).status == "pending"
    assert "jobs.mail.deliver" in caplog.text and "not enqueued on 'mail'" in caplog.text


def test_the_jobs_after_it_are_still_tried(session, redis_down, caplog):
    member = make_user(session)
    for subject in ("First", "Second"):
        queue_mail(session, user=member, subject=subject, body="Body")
    session.commit()
    assert caplog.text.count("not enqueued") == 2


def test_a_savepoint_released_or_rolled_back_does_not_send_or_drop_the_jobs(session, redis):
    """SQLAlchemy reports a savepoint's release as a commit and its rollback as a rollback: the
    jobs asked for before it wait for the transaction's own commit."""
    from portal.queues import get_queue

    member = make_user(session)
    queue_mail(session, user=member, subject="Hello", body="Body")
    with session.begin_nested():  # released
        make_user(session)
    assert get_queue("mail").count == 0  # not before the commit
    savepoint = session.begin_nested()
    make_user(session)
    savepoint.rollback()
    session.commit()
    assert [job.func_name for job in get_queue("mail").jobs] == ["jobs.mail.deliver"]
