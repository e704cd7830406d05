"""Mail through the outbox: written with the change it reports, sent after the commit."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.clock import utcnow
from portal.mail.models import OutboxMessage
from portal.queues import enqueue_after_commit

# The retry rule. A message still pending (its enqueue was lost, or sending raised and the job
# rolled back) or failed is sent again by the outbox cron every RETRY_EVERY_SECONDS while it
# was tried fewer than MAX_ATTEMPTS times, so that a message that cannot go out is not tried
# forever. A round takes at most RETRY_BATCH, the oldest first, so that a long outage drains
# over several rounds instead of one job that outlives its timeout.
RETRY_EVERY_SECONDS = 300
MAX_ATTEMPTS = 5
RETRY_BATCH = 500
RETRIED_STATUSES = ("pending", "failed")


def queue_mail(session: Session, *, user: User, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(user_id=user.id, recipient=user.email, subject=subject, body=body)
    session.add(message)
    session.flush()
    enqueue_after_commit(session, "jobs.mail.deliver", message.id, queue="mail",
                         job_id=f"mail-{message.id}")
    return message


def queue_mails(session: Session, messages: list[dict]) -> list[int]:
    """Many messages in one statement (each a dict of user_id, recipient, subject, body), each
    sent by its own job after the commit, as ``queue_mail`` does for one."""
    if not messages:
        return []
    now = utcnow()
    ids = list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id),
                               [{**message, "created_at": now, "status": "pending"}
                                for message in messages]))
    for message_id in ids:
        enqueue_after_commit(session, "jobs.mail.deliver", message_id, queue="mail",
                             job_id=f"mail-{message_id}")
    return ids


def deliver(session: Session, app: Flask, message_id: int) -> str:
    """Send one outbox message once. Without SMTP settings the message is held in the outbox."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status == "sent":
        return "nothing to do"
    message.attempts += 1
    if not app.config.get("SMTP_HOST"):
        message.status = "held"
        message.last_error = "No SMTP server is configured; the message is kept in the outbox."
        return message.status
    email = EmailMessage()
    email["From"] = app.config["MAIL_SENDER"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email.set_content(message.body)
    with smtplib.SMTP(app.config["SMTP_HOST"], int(app.config["SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(email)
    message.status, message.sent_at, message.last_error = "sent", utcnow(), ""
    return message.status


def messages_to_retry(session: Session) -> list[int]:
    """Ids of the outbox messages the next retry round sends again (see the retry rule above)."""
    return list(session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status.in_(RETRIED_STATUSES), OutboxMessage.attempts < MAX_ATTEMPTS)
        .order_by(OutboxMessage.id).limit(RETRY_BATCH)))
