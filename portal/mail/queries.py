"""A person's own mail, as their notification list shows it: every message the outbox holds
for them (sent, held or waiting), newest first."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, select

from portal.mail.models import OutboxMessage

# Links in our own mail: an http(s) address up to the next blank or closing bracket; a full
# stop or comma that ends a sentence is not part of it.
LINK = re.compile(r"https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]")


@dataclass(frozen=True)
class Part:
    text: str
    is_link: bool


def notifications_query(user_id: int) -> Select:
    return (select(OutboxMessage).where(OutboxMessage.user_id == user_id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()))


def body_parts(body: str) -> list[Part]:
    """A message's text cut into plain text and links, so that the page shows the links as
    links while everything else stays text (escaped by the template)."""
    parts, at = [], 0
    for found in LINK.finditer(body):
        if found.start() > at:
            parts.append(Part(body[at:found.start()], False))
        parts.append(Part(found.group(0), True))
        at = found.end()
    if at < len(body):
        parts.append(Part(body[at:], False))
    return parts
