"""``flask --app wsgi autoship run``, ``... forecast`` and ``... repair-cycle-pv``."""

from __future__ import annotations

import json
import time
from datetime import date

import click
from flask import current_app
from flask.cli import AppGroup

from portal.clock import company_today, utcnow
from portal.extensions import db
from portal.unit_of_work import commit_before, transactional

autoship_cli = AppGroup("autoship", help="Run the autoship engine, forecast what it will do, "
                                         "or repair the stored cycle PVs.")


def _day(ctx, param, value):
    if value is None:
        return None
    from portal.forms import EARLIEST_YEAR, LATEST_YEAR, parse_date

    try:
        return parse_date(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date like 2026-12-01 (years {EARLIEST_YEAR} "
                                 f"to {LATEST_YEAR})") from None


def _summary(run, seconds: float) -> dict:
    """What this attempt of the run did (a re-run reports its own counts; the earlier
    attempts' stay on the run and its admin page)."""
    from portal.autoship.runs import attempt_summaries

    attempt = attempt_summaries(run)[-1]
    return {"as_of": run.as_of.isoformat(), "attempt": attempt.number, "due": attempt.due,
            "created": attempt.created, "skipped": attempt.skipped, "missed": attempt.missed,
            "set_aside": attempt.set_aside, "failed": attempt.failed, "seconds": round(seconds, 3), "run_id": run.id,
            "chunks": attempt.chunks_total, "status": run.status}


@autoship_cli.command("run")
@click.option("--as-of", "as_of", callback=_day, help="The run date (default: today, company time).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--sync", is_flag=True, help="Run in this process instead of enqueueing jobs.")
@click.option("--wait", is_flag=True, help="Without --sync: wait until the workers have finished.")
@transactional
def run_command(as_of: date | None, as_json: bool, sync: bool, wait: bool) -> None:
    """Materialise every profile due on or before the date into exactly one order each."""
    from portal.autoship import engine, runs
    from portal.autoship.models import AutoshipRun
    from portal.orders.billing import uncharged_autoship_orders
    from portal.orders.charging import charge

    as_of = as_of or company_today()
    started = time.perf_counter()
    if sync:
        run = engine.run_in_process(db.session, as_of=as_of, trigger="cli",
                                    rules=engine.EngineRules.from_config(current_app.config))
        seconds = time.perf_counter() - started
        order_ids = uncharged_autoship_orders(db.session, utcnow(), limit=10**9)
        if order_ids:
            charge(current_app._get_current_object(), db.session, order_ids, as_of)
    else:
        run = runs.start_and_enqueue(db.session, as_of=as_of, trigger="cli",
                                     config=current_app.config)
        commit_before(db.session, "the workers are given the chunks")  # enqueued on commit
        while wait and run.status == "running":
            time.sleep(0.5)
            db.session.expire_all()
            run = db.session.get(AutoshipRun, run.id)
        seconds = time.perf_counter() - started
    summary = _summary(run, seconds)
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"Autoship run for {summary['as_of']}, attempt {summary['attempt']}: "
                   f"{summary['due']} due, {summary['created']} "
                   f"orders created, {summary['skipped']} skipped, {summary['missed']} missed dates, "
                   f"{summary['set_aside']} set aside (schedule cannot be planned), {summary['failed']} failed chunks ({summary['status']}, {summary['seconds']} s).")


@autoship_cli.command("forecast")
@click.option("--from", "start", callback=_day, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "end", callback=_day, required=True, help="Last day (YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@transactional
def forecast_command(start: date, end: date, as_json: bool) -> None:
    """Per day: how many orders the run of that day will create, their value and PV, at
    today's prices. Writes nothing."""
    from portal.autoship.engine import EngineRules
    from portal.autoship.forecast import ForecastRefused, forecast

    try:
        days = forecast(db.session, start, end, today=company_today(),
                        min_pv=EngineRules.from_config(current_app.config).min_pv)
    except ForecastRefused as refused:
        raise click.BadParameter(refused.message, param_hint=f"--{refused.field}") from None
    if as_json:
        for day in days:
            click.echo(json.dumps({"date": day.day.isoformat(), "orders": day.orders,
                                   "value": str(day.value), "pv": str(day.pv)}))
        return
    click.echo(f"{'date':<12}{'orders':>8}{'value':>14}{'PV':>12}")
    for day in days:
        click.echo(f"{day.day.isoformat():<12}{day.orders:>8}{day.value:>14,.2f}{day.pv:>12,.2f}")
    click.echo(f"{'total':<12}{sum(d.orders for d in days):>8}{sum(d.value for d in days):>14,.2f}"
               f"{sum(d.pv for d in days):>12,.2f}")


@autoship_cli.command("repair-cycle-pv")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@transactional
def repair_cycle_pv_command(as_json: bool) -> None:
    """Recompute every standing order's stored cycle PV and correct the stale ones (what the
    nightly cron job does); correct ones are not written."""
    from portal.autoship.volume import repair_cycle_pv

    repair = repair_cycle_pv(db.session)
    if as_json:
        click.echo(json.dumps({"checked": repair.checked, "fixed": repair.fixed,
                               "fixed_ids": repair.fixed_ids}))
    else:
        click.echo(repair.summary())


__all__ = ["autoship_cli"]
