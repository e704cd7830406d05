"""The RQ worker: ``make worker`` (or ``python -m jobs.worker [queue ...]``).

Builds the app once; each job runs in a forked work horse inside a fresh app context, with
the database pool of the parent discarded after the fork.
"""

from __future__ import annotations

import os
import sys

from flask import Flask
from rq import Worker

from portal import create_app
from portal.extensions import db
from portal.queues import get_redis


class AppWorker(Worker):
    app: Flask

    def perform_job(self, job, queue) -> bool:
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)
            finally:
                db.session.remove()


def _discard_inherited_connections(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def build_worker(app: Flask, queue_names: list[str] | None = None, name: str | None = None) -> AppWorker:
    names = queue_names or list(app.config["RQ_QUEUES"])
    worker = AppWorker(names, connection=get_redis(app), name=name)
    worker.app = app
    return worker


def main(argv: list[str] | None = None) -> None:
    app = create_app()
    os.register_at_fork(after_in_child=lambda: _discard_inherited_connections(app))
    args = sys.argv[1:] if argv is None else argv
    burst = "--burst" in args
    queues = [a for a in args if not a.startswith("--")]
    build_worker(app, queues).work(burst=burst, with_scheduler=True)


if __name__ == "__main__":
    main()
