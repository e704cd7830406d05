"""rq-dashboard, mounted for admins only.

It has no authentication of its own and its buttons post without a CSRF token. So every
request to it must come from a logged-in admin (anyone else gets a 404), and its unsafe
requests must come from our own origin (Origin or Referer checked; the session cookie is
SameSite=Lax as well). Job arguments are ids and dates, so nothing a person typed reaches it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, request
from flask_login import current_user
from rq.serializers import JSONSerializer

from portal.extensions import csrf
from portal.queues import redis_url

URL_PREFIX = "/admin/rq"
BLUEPRINT_NAME = "rq_dashboard"


def _same_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    return urlsplit(source).netloc == request.host


def mount_rq_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard import web

    web.config.serializer = JSONSerializer
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
        return None
