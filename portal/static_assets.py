"""Static files under content-hashed URLs, cached by browsers for a year.

Templates name a file with ``static_url('css/portal.css')``: its URL carries ``?v=`` and the
start of the SHA-256 of the file's content. A request with the file's current version is
answered with ``Cache-Control: public, max-age=31536000, immutable``, so a page never asks for
it again; a changed file gets a new URL, so nobody keeps an old one. A request without the
version, or with an old one, gets Flask's answer (``no-cache``: asked again each time).

A file's version is computed once and kept while the file's size and modification time stay
the same: a deployed release hashes each file once, and in development an edited stylesheet
gets its new URL on the next page."""

from __future__ import annotations

import hashlib
import os

from flask import Flask, current_app, request, url_for
from werkzeug.security import safe_join

ONE_YEAR = 365 * 24 * 60 * 60
VERSION_LENGTH = 12  # hex digits of the SHA-256

_versions: dict[str, tuple[tuple[int, int], str]] = {}  # path -> ((mtime_ns, size), version)


def content_version(path: str) -> str | None:
    """The version of the file at ``path`` (None when there is no such file)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    seen = (stat.st_mtime_ns, stat.st_size)
    known = _versions.get(path)
    if known and known[0] == seen:
        return known[1]
    with open(path, "rb") as file:
        version = hashlib.file_digest(file, "sha256").hexdigest()[:VERSION_LENGTH]
    _versions[path] = (seen, version)
    return version


def _version_of(filename: str) -> str | None:
    path = safe_join(current_app.static_folder, filename)
    return content_version(path) if path else None


def static_url(filename: str) -> str:
    """``url_for('static', filename=...)`` with the file's version."""
    version = _version_of(filename)
    return url_for("static", filename=filename, **({"v": version} if version else {}))


def send_static_file(filename: str):
    """The static route: a request naming the file's current version may keep it a year."""
    response = current_app.send_static_file(filename)
    version = request.args.get("v")
    if version and version == _version_of(filename):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response


def register(app: Flask) -> None:
    app.jinja_env.globals["static_url"] = static_url
    if app.has_static_folder:
        app.view_functions["static"] = send_static_file
