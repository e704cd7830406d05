"""A day's run of the engine as the jobs, the CLI and the admin pages drive it: starting it and
enqueueing its chunks, retrying the failed ones, what each attempt did, which orders a chunk
left to charge, and whether the daily run is due. The work of a chunk is
``portal.autoship.engine``; charging is ``portal.orders.charging``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.autoship.engine import start_run, unfinished_chunks
from portal.autoship.models import AutoshipRun, AutoshipRunChunk
from portal.clock import company_now
from portal.orders.billing import autoship_orders_to_charge
from portal.queues import enqueue_after_commit

CHUNK_RETRY = Retry(max=3, interval=[5, 30, 120])


def chunk_job_id(run: AutoshipRun, number: int) -> str:
    return f"autoship-{run.as_of.isoformat()}-{run.attempts}-chunk-{number}"


def start_and_enqueue(session: Session, *, as_of: date, trigger: str, config,
                      restart: bool = True) -> AutoshipRun | None:
    """Create the run's chunks and enqueue one job per chunk once this transaction commits."""
    run = start_run(session, as_of=as_of, trigger=trigger, chunk_size=int(config["AUTOSHIP_CHUNK_SIZE"]),
                    restart=restart)
    if run is None:
        return None
    for number in unfinished_chunks(session, run.id):
        _enqueue_chunk(session, run, number, chunk_job_id(run, number))
    return run


def _enqueue_chunk(session: Session, run: AutoshipRun, number: int, job_id: str) -> None:
    enqueue_after_commit(session, "jobs.autoship.materialise", run.id, number, job_id=job_id,
                         retry=CHUNK_RETRY, job_timeout=1800)


def retry_failed_chunks(session: Session, run_id: int) -> int:
    """Admin: enqueue the failed (or never finished) chunks of a run again."""
    run = session.get(AutoshipRun, run_id)
    waiting = [c for c in run.chunks if c.status != "done"]
    for chunk in waiting:
        chunk.status = "pending"
        _enqueue_chunk(session, run, chunk.number,
                       f"{chunk_job_id(run, chunk.number)}-retry-{chunk.attempts}")
    if waiting:
        run.status = "running"
    session.flush()
    return len(waiting)


@dataclass(frozen=True)
class AttemptSummary:
    """What one attempt of a run found and did (its chunks' counts added up)."""

    number: int
    trigger: str
    started_at: datetime
    finished_at: datetime | None  # None while a chunk of it is unfinished
    due: int
    resumed: int
    chunks_total: int
    chunks_done: int
    created: int
    skipped: int
    missed: int
    set_aside: int
    failed: int


def attempt_summaries(run: AutoshipRun) -> list[AttemptSummary]:
    """Every attempt of ``run``, first to last, with its own counts."""
    summaries = []
    for attempt in run.history:
        chunks = [chunk for chunk in run.chunks if chunk.attempt == attempt.number]
        done = [chunk for chunk in chunks if chunk.status == "done"]
        finished = None
        if len(done) == len(chunks):
            finished = max((chunk.finished_at for chunk in chunks), default=attempt.started_at)
        summaries.append(AttemptSummary(
            number=attempt.number, trigger=attempt.trigger, started_at=attempt.started_at,
            finished_at=finished, due=attempt.due, resumed=attempt.resumed,
            chunks_total=len(chunks), chunks_done=len(done),
            created=sum(chunk.created for chunk in done), skipped=sum(chunk.skipped for chunk in done),
            missed=sum(chunk.missed for chunk in done),
            set_aside=sum(chunk.set_aside for chunk in done),
            failed=sum(1 for chunk in chunks if chunk.status == "failed")))
    return summaries


def chunk_orders(session: Session, run_id: int, number: int) -> list[int]:
    """The orders a chunk created that are still to charge (``autoship_orders_to_charge`` over
    the chunk's profiles and the run's date)."""
    run = session.get(AutoshipRun, run_id)
    chunk = session.get(AutoshipRunChunk, (run_id, number))
    if run is None or chunk is None:  # the run was restarted since; the sweep charges them
        return []
    return autoship_orders_to_charge(session, due_by=run.as_of,
                                     profile_ids=(chunk.low_id, chunk.high_id))


def run_for_today_is_due(session: Session, config) -> date | None:
    """The cron tick: today's date once the daily start time has passed and no run exists."""
    now = company_now(config)
    hour, minute = (int(part) for part in str(config["AUTOSHIP_RUN_AT"]).split(":"))
    if (now.hour, now.minute) < (hour, minute):
        return None
    today = now.date()
    exists = session.scalar(select(AutoshipRun.id).where(AutoshipRun.as_of == today))
    return None if exists else today
