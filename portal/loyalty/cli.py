"""``flask --app wsgi points show``, ``... expire`` and ``... program``."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.clock import company_today
from portal.extensions import db
from portal.unit_of_work import transactional

points_cli = AppGroup("points", help="Loyalty points: a person's statement, the daily expiry, the program.")


def _day(ctx, param, value):
    if value is None:
        return None
    from portal.forms import parse_date

    try:
        return parse_date(value)
    except ValueError:
        raise click.BadParameter(f"'{value[:40]}' is not a date like 2026-12-01") from None


@points_cli.command("show")
@click.option("--member", "member", required=True, help="The person's member number.")
@click.option("--as-of", "as_of", callback=_day, help="As at the end of this day (company time).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show_command(member: str, as_of, as_json: bool) -> None:
    """A person's balance, rate, month count and ledger."""
    from portal.accounts.models import User
    from portal.loyalty.queries import points_statement

    user = db.session.scalar(select(User).where(User.member_number == member.strip()))
    if user is None:
        raise click.BadParameter(f"no member numbered {member[:20]!r}", param_hint="--member")
    statement = points_statement(db.session, user.id, timezone=current_app.config["COMPANY_TIMEZONE"],
                                 as_of=as_of, limit=None)
    ledger = [{"kind": e.kind, "points": e.points, "order": statement.order_numbers.get(e.order_id),
               "at": e.at.isoformat(), "expires": e.expires_on.isoformat() if e.expires_on else None}
              for e in reversed(statement.entries)]
    answer = {"member": user.member_number, "as_of": statement.as_of.isoformat(),
              "balance": statement.balance, "rate": statement.percent,
              "streak_months": statement.streak.months, "ledger": ledger}
    if as_json:
        click.echo(json.dumps(answer))
        return
    click.echo(f"{user.member_number}: {statement.balance:,} points ({statement.value} to spend), "
               f"{answer['rate']}% at month {statement.streak.months}")
    for entry in ledger:
        click.echo(f"  {entry['at'][:10]}  {entry['kind']:<9} {entry['points']:>8,}  "
                   f"{entry['order'] or '':<12} {('expires ' + entry['expires']) if entry['expires'] else ''}")


@points_cli.command("expire")
@click.option("--as-of", "as_of", callback=_day, help="Expire what is due by this day (default today).")
@transactional
def expire_command(as_of) -> None:
    """Expire the points due (what the daily cron job does); running it twice expires nothing more."""
    from portal.loyalty.ledger import expire_points

    people = expire_points(db.session, today=as_of or company_today())
    click.echo(f"points expired for {people} people")


@points_cli.command("program")
@click.option("--load", "path", type=click.Path(exists=True, dir_okay=False),
              help="A JSON document to make the program in force (validated first).")
@transactional
def program_command(path: str | None) -> None:
    """Print the program in force, or load a new one; a refused one is listed with its reasons."""
    from portal.loyalty.program import current_program, store_program
    from portal.loyalty.rules import InvalidProgram

    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                program = store_program(db.session, handle.read(), note=f"loaded from {path}")
        except (InvalidProgram, UnicodeDecodeError) as error:
            for reason in getattr(error, "reasons", [str(error)]):
                click.echo(f"refused: {reason}", err=True)
            sys.exit(2)
    else:
        program = current_program(db.session)
    click.echo(json.dumps(program.to_document(), indent=2))
