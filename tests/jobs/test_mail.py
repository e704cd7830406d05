"""Mail goes through the outbox: written with the change, delivered by a real RQ worker."""

import json
import zlib

from sqlalchemy import select

from portal.extensions import db
from portal.mail.models import OutboxMessage
from portal.mail.services import queue_mail
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


def test_jobs_are_json_serialised_and_carry_only_ids(session, redis):
    member = make_user(session)
    message = queue_mail(session, user=member, subject="Secret subject", body="Secret body")
    session.commit()
    [job] = get_queue("mail").get_jobs()
    assert job.args == [message.id] or job.args == (message.id,)
    data = zlib.decompress(redis.hget(f"rq:job:{job.id}", "data")).decode()
    assert json.loads(data)[0] == "jobs.mail.deliver"  # JSON, not pickle
    assert "Secret" not in data
