"""Where absolute links in mail point.

A link in mail must open the portal the member uses. In production that is ``BASE_URL``, always:
the Host header of a request is chosen by whoever sends it, and a forged one would make the
password-reset mail of somebody else carry a link to another site. In development and tests the
portal runs on whatever host and port it was started on, so mail written while answering a
request links back to where that request came; mail written by a job (no request) uses
``BASE_URL``, which ``make run`` sets to the port it serves."""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request


def site_url(app: Flask | None = None) -> str:
    """The scheme and host, without a trailing slash, that a link in mail begins with."""
    config = (app or current_app).config
    if config["ENV_NAME"] != "production" and has_request_context():
        return request.host_url.rstrip("/")
    return config["BASE_URL"].rstrip("/")
