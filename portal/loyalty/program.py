"""The points program in force: the newest stored version, else the example (see ``rules``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.loyalty.models import LoyaltyProgram
from portal.loyalty.rules import EXAMPLE_PROGRAM, Program, parse_program
import json


def current_program(session: Session) -> Program:
    """The newest stored program. Every stored one was validated; the example applies while
    none is stored (the first migration stores it)."""
    document = session.scalar(select(LoyaltyProgram.document).order_by(LoyaltyProgram.id.desc()).limit(1))
    return EXAMPLE_PROGRAM if document is None else parse_program(document)


def store_program(session: Session, document, note: str = "") -> Program:
    """Validate ``document`` and make it the program in force from now on; InvalidProgram
    (with every reason) when it is refused. Points already earned keep their rate and expiry."""
    program = parse_program(document)
    session.add(LoyaltyProgram(document=json.dumps(program.to_document()), note=note[:200]))
    session.flush()
    return program
