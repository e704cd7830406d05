from flask import current_app

from portal.extensions import db
from portal.mail.services import deliver as deliver_message


def deliver(message_id: int) -> str:
    status = deliver_message(db.session, current_app, message_id)
    db.session.commit()
    return status


def deliver_waiting() -> int:
    """Cron: retry whatever is still pending (a lost enqueue, an SMTP hiccup)."""
    from sqlalchemy import select

    from portal.mail.models import OutboxMessage

    ids = list(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.status.in_(("pending", "failed")), OutboxMessage.attempts < 5).limit(500)))
    for message_id in ids:
        deliver_message(db.session, current_app, message_id)
        db.session.commit()
    return len(ids)
