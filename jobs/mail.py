"""Mail as RQ jobs: one message after the commit that wrote it, and the outbox's retry round."""

from flask import current_app

from portal.extensions import db
from portal.mail.services import deliver as deliver_message
from portal.mail.services import messages_to_retry
from portal.unit_of_work import commit_before, transactional


@transactional
def deliver(message_id: int) -> str:
    return deliver_message(db.session, current_app, message_id)


@transactional
def deliver_waiting() -> int:
    """Cron: send again what the mail retry rule picks (``portal.mail.services``)."""
    ids = messages_to_retry(db.session)
    for message_id in ids:
        deliver_message(db.session, current_app, message_id)
        commit_before(db.session, "the next message is sent")  # a sent mail is never sent again
    return len(ids)
