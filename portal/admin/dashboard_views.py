"""rq-dashboard, mounted for admins only.

It has no authentication of its own and its buttons post without a CSRF token. So every
request to it must come from a logged-in admin (anyone else gets a 404), and its unsafe
requests must come from our own origin (Origin or Referer checked; the session cookie is
SameSite=Lax as well). Job arguments are ids and dates, so nothing a person typed reaches it.

It also trusts its URLs: an unknown queue, job, registry or instance, or a page size of 0,
raised inside it (a 500). Each is checked here first and answered 404 (409 for a job that is
not failed) with a message, in JSON where the dashboard's scripts expect JSON.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from flask import Flask, abort, jsonify, request
from flask_login import current_user
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

from portal.errors import render_error
from portal.extensions import csrf
from portal.ids import parse_id
from portal.queues import get_redis, redis_url

URL_PREFIX = "/admin/rq"
BLUEPRINT_NAME = "rq_dashboard"
REGISTRIES = ("queued", "failed", "deferred", "started", "finished", "scheduled", "canceled")
ORDERS = ("asc", "dsc")
MAX_PER_PAGE = 200  # the dashboard's own page-size input stops there


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return urlsplit(source).netloc == request.host


def mount_rq_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard import web

    app.config.from_object(rq_dashboard.default_settings)
    app.config["RQ_DASHBOARD_REDIS_URL"] = None  # resolved on the first admin visit
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    csrf.exempt(rq_dashboard.blueprint)

    @app.before_request
    def guard_dashboard():
        if request.blueprint != BLUEPRINT_NAME:
            return None
        if not current_user.is_authenticated or not current_user.is_admin:
            abort(404)
        # Its "requeue all" answers GET too, so an action is judged by its path, not its method.
        is_action = request.method not in ("GET", "HEAD", "OPTIONS") or "/requeue/" in request.path
        if is_action and not _same_origin():
            abort(403, "Dashboard actions must come from this site.")
        if not app.config.get("RQ_DASHBOARD_REDIS_URL"):
            app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url(app)
            web.setup_rq_connection(app)
        try:
            _check_arguments(request.view_args or {}, len(app.config["RQ_DASHBOARD_REDIS_URL"]),
                             app.config["RQ_QUEUES"])
            if request.endpoint == f"{BLUEPRINT_NAME}.compact_queue":
                return _compact(request.view_args["queue_name"])
        except Refused as refused:
            return _answer(refused.status, refused.message)
        return None

    # A job that expired, or was requeued by another admin, between the check and the action.
    @app.errorhandler(NoSuchJobError)
    def job_gone(error):
        if request.blueprint != BLUEPRINT_NAME:
            raise error
        return _answer(404, "That job no longer exists: it finished, expired or was deleted.")

    @app.errorhandler(InvalidJobOperation)
    def job_moved(error):
        if request.blueprint != BLUEPRINT_NAME:
            raise error
        return _answer(409, "That job is no longer failed (someone requeued it); reload the page.")


def _answer(status: int, message: str):
    """The refusal as the dashboard's caller reads it: JSON for its scripts (data and actions),
    the error page for its pages."""
    if request.path.endswith(".json") or request.method == "POST" or "/requeue/" in request.path:
        response = jsonify(status="ERROR", message=message)
        response.status_code = status
        return response
    return render_error(status, message)


def _check_arguments(args: dict, instances: int, our_queues) -> None:
    """Raise Refused if the dashboard URL's arguments name nothing that exists. A queue exists
    if ours (``RQ_QUEUES``, even before its first job) or known to RQ."""
    connection = get_redis()
    instance = args.get("instance_number")
    if instance is not None and not 0 <= instance < instances:
        raise Refused(404, f"No such Redis instance: the dashboard watches {instances} "
                           f"(numbered from 0).")
    registry = args.get("registry_name")
    if registry is not None and registry not in REGISTRIES:
        raise Refused(404, f"No such job list: choose one of {', '.join(REGISTRIES)}.")
    if args.get("order") is not None and args["order"] not in ORDERS:
        raise Refused(404, "Order jobs by asc or dsc.")
    if args.get("per_page") is not None and not 1 <= (parse_id(args["per_page"]) or 0) <= MAX_PER_PAGE:
        raise Refused(404, f"Show 1 to {MAX_PER_PAGE} jobs per page.")
    if args.get("page") is not None and parse_id(args["page"]) is None:
        raise Refused(404, "No such page: pages are numbered from 1.")
    name = args.get("queue_name")
    if name is not None and name not in {*our_queues, *(q.name for q in Queue.all(connection=connection))}:
        raise Refused(404, f"No such queue: {name[:60]!r}. The queues are listed on the dashboard's "
                           "first page.")
    job_id = args.get("job_id")
    if job_id is not None:
        if not Job.exists(job_id, connection=connection):
            raise Refused(404, "That job no longer exists: it finished, expired or was deleted.")
        if request.endpoint == f"{BLUEPRINT_NAME}.requeue_job_view":
            origin = Job.fetch(job_id, connection=connection).origin
            if job_id not in FailedJobRegistry(origin, connection=connection):
                raise Refused(409, "Only a failed job can be requeued; this one is not failed.")


def _compact(queue_name: str):
    """rq's compact renames the queue's list first, and Redis refuses to rename a list that does
    not exist: an empty queue has none. Nothing to compact then."""
    try:
        Queue(queue_name, connection=get_redis()).compact()
    except redis.ResponseError as error:
        if "no such key" not in str(error).lower():
            raise
    return jsonify(status="OK")
