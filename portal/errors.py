"""Domain errors and the HTTP error pages.

Services raise a ``DomainError`` subclass with a message meant for the person; the web layer
turns it into that message and a 4xx. Nothing a person types may become a 500.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, render_template
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from htmx_flask import make_response, request
from werkzeug.exceptions import HTTPException

from portal.extensions import db, limiter


class DomainError(Exception):
    """A request the rules refuse. ``status`` is the HTTP answer the web layer gives."""

    status = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field  # the form field the message belongs beside, if any


class NotFound(DomainError):
    """Unknown ids and other people's ids alike, so that existence does not leak."""

    status = 404


class Forbidden(DomainError):
    status = 403


ERROR_TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    422: "Cannot do that",
    429: "Too many requests",
    500: "Something went wrong",
}


# Where a failed htmx request shows its message: a region of every page (templates/base.html),
# so that an error never lands inside a button, a table row or a badge.
HTMX_ERROR_REGION = "#htmx-error"


def render_error(status: int, message: str, headers: dict[str, str] | None = None):
    """The error page, or for htmx its fragment, sent to the page's error region.

    Whatever the request wrote is rolled back first: nothing of a failed request is kept, and
    the page (whose layout reads the database) never renders inside a broken transaction."""
    db.session.rollback()
    htmx = bool(request.htmx)
    template = "errors/_error.html" if htmx else "errors/error.html"
    response = make_response(
        render_template(template, status=status, title=ERROR_TITLES.get(status, "Error"),
                        message=message, htmx=htmx), status,
        retarget=HTMX_ERROR_REGION if htmx else None, reswap="innerHTML" if htmx else None)
    response.vary.add("HX-Request")
    response.headers.update(headers or {})
    return response


def seconds_until_retry() -> int:
    """How long until the rate limit this request broke lets the next attempt through."""
    broken = limiter.current_limit
    return max(1, math.ceil(broken.window.reset_time - time.time())) if broken else 60


def try_again_in(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"Too many attempts. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


def _refuse_nul_bytes():
    """Nobody types a NUL, and PostgreSQL cannot hold one: a URL carrying one is refused before
    any view sees it. (Form fields get the same treatment, beside the field, from
    portal.forms.PlainTextForm.)"""
    if any("\x00" in value for value in (request.path, *request.args.values())):
        return render_error(400, "This request contains a character we cannot accept (NUL).")
    return None


def register(app: Flask) -> None:
    app.before_request(_refuse_nul_bytes)
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(400, "This form has expired or was not sent from this site. "
                                 "Go back, reload the page and try again.")

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded):
        seconds = seconds_until_retry()
        return render_error(429, try_again_in(seconds), {"Retry-After": str(seconds)})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        kept = {name: value for name, value in error.get_headers()  # e.g. Allow on a 405
                if name.lower() != "content-type"}
        if error.code == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
            message = f"What you sent is larger than the {limit:g} MiB we accept."
        else:
            message = error.description or ERROR_TITLES.get(error.code, "")
        return render_error(error.code, message, kept)

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return render_error(error.status, error.message)

    @app.errorhandler(500)
    def server_error(error):
        return render_error(500, "We could not finish that request. Nothing was charged twice; "
                                 "please try again in a moment.")
