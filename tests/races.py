"""Writes that land while a service is between its friendly check and its own write."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from portal.extensions import db


def write_twin(session: Session, table: Table, **values) -> None:
    """Insert a row as a concurrent request would, unseen by the check the service already made.

    On PostgreSQL another transaction commits it. SQLite runs one writing transaction at a
    time, so no other can commit meanwhile: the row goes into the session's own transaction,
    as a write behind the service's back (an import, SQL by hand) would leave it.
    """
    if session.get_bind().dialect.name == "postgresql":
        with db.engine.begin() as other:
            other.execute(table.insert().values(**values))
    else:
        session.execute(table.insert().values(**values))
