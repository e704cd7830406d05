"""``flask --app wsgi volume show --member NUMBER [--period YYYY-MM] --json`` and
``flask --app wsgi volume recompute --period YYYY-MM``."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.clock import company_today
from portal.extensions import db
from portal.unit_of_work import transactional

volume_cli = AppGroup("volume", help="Show a person's volume and rank, or recompute a period.")


def _period(ctx, param, value):
    from portal.volume.periods import BadPeriod, current_period, parse_period

    if value is None:
        return current_period()
    try:
        return parse_period(value, today=company_today())
    except BadPeriod as error:
        raise click.BadParameter(error.message) from None   # click exits with code 2


def _points(figure) -> str:
    return format(figure.normalize(), "f") if figure == figure.to_integral_value() else str(figure)


@volume_cli.command("show")
@click.option("--member", "number", required=True, help="The member number.")
@click.option("--period", callback=_period, help="YYYY-MM (default: the current period).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@transactional
def show_command(number: str, period, as_json: bool) -> None:
    """A person's PV, GV, legs, paid-as rank and what the next rank still needs."""
    from portal.accounts.models import User
    from portal.volume.periods import period_text
    from portal.volume.standing import standing_of

    user = db.session.scalar(select(User).where(User.member_number == number.strip()))
    if user is None or user.role == "admin":
        raise click.BadParameter(f"No member or IBO has the number {number!r}.",
                                 param_hint="--member")
    standing = standing_of(db.session, user, period)
    answer = {"member": standing.member, "period": period_text(period),
              "pv": _points(standing.pv), "gv": _points(standing.gv),
              "legs": [{"member": leg.member, "gv": _points(leg.gv), "rank": leg.rank}
                       for leg in standing.legs],
              "rank": standing.rank.code if standing.rank else None,
              "next_rank": standing.next_rank.code if standing.next_rank else None,
              "missing": list(standing.missing)}
    if as_json:
        click.echo(json.dumps(answer))
        return
    click.echo(f"{standing.name} ({standing.member}), {period_text(period)} "
               f"[{standing.period_status}]")
    click.echo(f"PV {answer['pv']}  GV {answer['gv']}  rank {standing.rank.name if standing.rank else '-'}")
    for leg in answer["legs"]:
        click.echo(f"  leg {leg['member']}: GV {leg['gv']}, rank {leg['rank'] or '-'}")
    if standing.next_rank:
        click.echo(f"Next: {standing.next_rank.name}: " + ("; ".join(standing.missing) or "met"))


@volume_cli.command("recompute")
@click.option("--period", callback=_period, required=True, help="YYYY-MM")
@transactional
def recompute_command(period) -> None:
    """Compute every person's volume and rank in the period from scratch."""
    from sqlalchemy import func

    from portal.accounts.models import User
    from portal.errors import DomainError
    from portal.volume.computation import recompute_period
    from portal.volume.periods import period_text

    people = db.session.scalar(select(func.count()).select_from(User).where(User.tree_path.is_not(None)))
    try:
        with click.progressbar(length=people, label=f"Recomputing {period_text(period)}",
                               file=sys.stderr) as bar:
            summary = recompute_period(db.session, period, progress=bar.update)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{period_text(period)}: {summary.rows:,} people with volume, {summary.ranked:,} "
               f"paid as a rank (plan version {summary.plan_version}).")
