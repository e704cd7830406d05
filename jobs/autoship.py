"""RQ entry points of the autoship engine. They take ids and dates, are each one unit of work
(``@transactional``: committed on return, rolled back on an error), and let errors raise so that
RQ records (and retries) them."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from flask import current_app

from portal.clock import company_today, utcnow
from portal.autoship import engine, runs, volume
from portal.autoship.card_notices import send_card_expiry_notices
from portal.autoship.notices import send_reminders
from portal.extensions import db
from portal.links import site_url
from portal.orders.billing import (orders_due_for_retry, orders_with_stale_attempts,
                                   uncharged_autoship_orders)
from portal.orders.charging import CHARGE_RETRY, charge
from portal.orders.pricing import shipping_rule
from portal.queues import enqueue_after_commit
from portal.unit_of_work import commit_before, transactional


@transactional
def start(as_of: str, trigger: str = "cron") -> dict | None:
    """Start the run for ``as_of`` unless it exists (cron may fire twice: RQ's cron has no lock)."""
    run = runs.start_and_enqueue(db.session, as_of=date.fromisoformat(as_of), trigger=trigger,
                                 config=current_app.config, restart=False)
    return None if run is None else {"run_id": run.id, "due": run.due, "chunks": run.chunks_total}


@transactional
def materialise(run_id: int, number: int) -> dict:
    try:
        result = engine.materialise_chunk(db.session, run_id=run_id, number=number,
                                          rules=engine.EngineRules.from_config(current_app.config))
        if result.created:
            enqueue_after_commit(db.session, "jobs.autoship.charge_chunk", run_id, number,
                                 queue="billing", job_id=f"autoship-charge-{run_id}-{number}",
                                 retry=CHARGE_RETRY, job_timeout=3600)
        db.session.flush()  # a failing statement fails here, inside the try
    except Exception as error:
        db.session.rollback()
        engine.record_chunk_failure(db.session, run_id=run_id, number=number, error=repr(error))
        commit_before(db.session, "the chunk's failure is raised to RQ")
        raise
    return {"due": result.due, "created": result.created, "skipped": result.skipped,
            "missed": result.missed, "set_aside": result.set_aside, "already_done": result.already_done}


@transactional
def charge_chunk(run_id: int, number: int) -> dict:
    order_ids = runs.chunk_orders(db.session, run_id, number)
    result = charge(current_app._get_current_object(), db.session, order_ids,
                               company_today())
    return {"paid": len(result.paid), "declined": len(result.declined),
            "cancelled": len(result.cancelled), "errors": len(result.errors)}


@transactional
def retry_payments() -> int:
    """Declined orders whose retry day has come, orders whose charge job was lost, and orders
    whose charge a dead worker left pending (sent again with the same idempotency key)."""
    today = company_today()
    stale = utcnow() - timedelta(minutes=float(current_app.config["PAYMENT_STALE_MINUTES"]))
    order_ids = sorted(set(orders_due_for_retry(db.session, today))
                       | set(uncharged_autoship_orders(db.session, stale))
                       | set(orders_with_stale_attempts(db.session, stale)))
    if order_ids:
        charge(current_app._get_current_object(), db.session, order_ids, today)
    return len(order_ids)


@transactional
def reminders() -> int:
    sent = send_reminders(db.session, today=company_today(),
                          days_ahead=int(current_app.config["AUTOSHIP_REMINDER_DAYS"]),
                          base_url=site_url(),
                          shipping=shipping_rule(current_app.config))
    return sent


@transactional
def tick() -> dict:
    """Cron, every few minutes: start today's run once its time has come; then reminders and
    payment retries (both safe to repeat)."""
    started = None
    today = runs.run_for_today_is_due(db.session, current_app.config)
    if today is not None:
        started = start(today.isoformat(), "cron")
    return {"started": started, "reminders": reminders(), "retried": retry_payments()}


@transactional
def refresh_product_cycle_pv(product_id: int) -> int:
    """After an admin withdrew a product or put it back on sale: the stored cycle PV of every
    profile holding it, as the catalog stands now. Returns how many changed."""
    changed = volume.refresh_cycle_pv(db.session, product_ids=[product_id])
    return changed


@transactional
def repair_cycle_pv() -> dict:
    """Cron, nightly: recompute every profile's cycle PV and correct the stale ones. Any it
    fixes were left wrong by code that forgot ``refresh_cycle_pv`` (or by a lost refresh
    job): a warning names them, so that the cause can be found."""
    repair = volume.repair_cycle_pv(db.session)
    current_app.logger.log(logging.WARNING if repair.fixed else logging.INFO, "%s", repair.summary())
    return {"checked": repair.checked, "fixed": repair.fixed,
            "fixed_ids": repair.fixed_ids[:volume.CyclePvRepair.SHOWN]}


@transactional
def card_notices() -> int:
    """Cron, daily: tell members whose standing order's card expires before its next run, 30
    and 7 days ahead. Safe to run twice: each notice is recorded once (a unique constraint)."""
    sent = send_card_expiry_notices(db.session, today=company_today(), base_url=site_url())
    current_app.logger.info("card-expiry notices sent: %s", sent)
    return sent
