"""``flask --app wsgi seed demo`` and ``flask --app wsgi seed synthetic``."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import AppGroup

from portal.clock import company_today
from portal.extensions import db
from portal.unit_of_work import transactional

seed_cli = AppGroup("seed", help="Fill the database with demo or synthetic data.")


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has people already.")
@transactional
def seed_demo_command(if_empty: bool) -> None:
    """Demo accounts (admin, an IBO with a four-level downline, members), ~30 products, and
    three months of standing orders, runs, payments and shipments."""
    from portal.payments.services import gateway_for
    from portal.seed.demo import DEMO_PASSWORD, database_is_empty, seed_demo

    if not database_is_empty(db.session):
        if if_empty:
            click.echo("The database already has data; demo seed skipped.")
            return
        raise click.ClickException("The database is not empty; demo data goes into an empty one.")
    started = time.perf_counter()
    logins, activity = seed_demo(db.session, gateway_for(current_app), company_today(), current_app.config)
    click.echo(f"Demo data created in {time.perf_counter() - started:.1f} s: {activity.people} people "
               f"below the company, {activity.profiles} standing orders, {activity.orders} orders "
               f"from {activity.runs} autoship runs.")
    click.echo("Log in with any of these (password: "
               f"{DEMO_PASSWORD}):")
    for login in logins:
        click.echo(f"  {login.role:<24} {login.email:<36} member no. {login.member_number}")


@seed_cli.command("synthetic")
@click.option("--members", "count", type=click.IntRange(1, 5_000_000), required=True,
              help="How many people to create.")
@click.option("--seed", "random_seed", type=int, default=1, show_default=True,
              help="Random seed: the same seed gives the same data.")
@click.option("--ibo-share", type=click.FloatRange(0.05, 1.0), default=0.3, show_default=True)
@click.option("--max-depth", type=click.IntRange(1, 60), default=30, show_default=True)
@transactional
def seed_synthetic_command(count: int, random_seed: int, ibo_share: float, max_depth: int) -> None:
    """Deterministic large data (genealogy, addresses, wallets) for benchmarks."""
    from portal.seed.synthetic import seed_synthetic

    with click.progressbar(length=count, label="people") as bar:
        summary = seed_synthetic(db.session, count=count, seed=random_seed, ibo_share=ibo_share,
                                 max_depth=max_depth, progress=bar.update)
    click.echo(summary)
