"""Domain errors and the HTTP error pages.

Services raise a ``DomainError`` subclass with a message meant for the person; the web layer
turns it into that message and a 4xx. Nothing a person types may become a 500.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


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


def render_error(status: int, message: str):
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, status=status, title=ERROR_TITLES.get(status, "Error"),
                           message=message), status


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

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        return render_error(error.code, error.description or ERROR_TITLES.get(error.code, ""))

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        return render_error(error.status, error.message)

    @app.errorhandler(500)
    def server_error(error):
        return render_error(500, "We could not finish that request. Nothing was charged twice; "
                                 "please try again in a moment.")
