from flask import current_app

from portal.extensions import db
from portal.mail.services import deliver as deliver_message
from portal.unit_of_work import commit_before, transactional


@transactional
def deliver(message_id: int) -> str:
    status = deliver_message(db.session, current_app, message_id)
    return status


@transactional
def deliver_waiting() -> int:
    """Cron: retry whatever is still pending (a lost enqueue, an SMTP hiccup)."""
    from sqlalchemy import select

    from portal.mail.models import OutboxMessage

    ids = list(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.status.in_(("pending", "failed")), OutboxMessage.attempts < 5).limit(500)))
    for message_id in ids:
        deliver_message(db.session, current_app, message_id)
        commit_before(db.session, "the next message is sent")  # a sent mail is never sent again
    return len(ids)
