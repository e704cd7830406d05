"""Mail goes through the outbox: written with the change, delivered by a real RQ worker."""

import zlib

from sqlalchemy import select

from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import messages_to_retry, queue_mail
from portal.queues import get_queue
from tests.factories import make_user


def test_mail_is_enqueued_only_after_the_commit(session, redis):
    member = make_user(session)
    queue_mail(session, user=member, subject="Hello", body="Body")
    assert get_queue("mail").count == 0
    session.commit()
    assert get_queue("mail").count == 1


def test_mail_of_a_rolled_back_change_is_never_enqueued(session, redis):
    member = make_user(session)
    session.commit()
    queue_mail(session, user=member, subject="Hello", body="Body")
    session.rollback()
    assert get_queue("mail").count == 0
    assert session.scalar(select(OutboxMessage)) is None


def test_a_real_worker_holds_mail_in_the_outbox_without_smtp(session, redis, run_worker):
    member = make_user(session)
    message = queue_mail(session, user=member, subject="Order confirmed", body="Thanks")
    session.commit()
    message_id = message.id
    session.close()
    run_worker("mail")
    stored = db.session.get(OutboxMessage, message_id)
    assert stored.status == "held" and stored.attempts == 1
    assert "No SMTP server" in stored.last_error
    assert get_queue("mail").failed_job_registry.count == 0


def test_a_mail_job_carries_only_the_message_id(session, redis):
    member = make_user(session)
    message = queue_mail(session, user=member, subject="Secret subject", body="Secret body")
    session.commit()
    [job] = get_queue("mail").get_jobs()
    assert (job.func_name, tuple(job.args), job.kwargs) == ("jobs.mail.deliver", (message.id,), {})
    stored = zlib.decompress(redis.hget(f"rq:job:{job.id}", "data"))
    assert b"Secret" not in stored


def outbox_message(session, member, status: str, attempts: int) -> int:
    message = queue_mail(session, user=member, subject=f"{status} after {attempts}", body="Body")
    message.status, message.attempts = status, attempts
    session.flush()
    return message.id


def test_the_retry_round_sends_again_what_is_pending_or_failed_up_to_five_tries(session):
    member = make_user(session)
    retried = [outbox_message(session, member, "pending", 0),
               outbox_message(session, member, "failed", 4)]
    outbox_message(session, member, "failed", 5)  # given up
    outbox_message(session, member, "held", 1)    # kept for an admin to read
    outbox_message(session, member, "sent", 1)
    assert messages_to_retry(session) == retried


def test_a_real_worker_runs_the_retry_round(session, redis, run_worker):
    member = make_user(session)
    pending = outbox_message(session, member, "pending", 0)
    given_up = outbox_message(session, member, "failed", 5)
    session.commit()
    get_queue("mail").empty()  # as if Redis had refused the enqueue after the commit
    get_queue("mail").enqueue("jobs.mail.deliver_waiting")
    session.close()
    run_worker("mail")
    assert (db.session.get(OutboxMessage, pending).status,
            db.session.get(OutboxMessage, pending).attempts) == ("held", 1)
    assert (db.session.get(OutboxMessage, given_up).status,
            db.session.get(OutboxMessage, given_up).attempts) == ("failed", 5)
    assert get_queue("mail").failed_job_registry.count == 0
