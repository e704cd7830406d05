"""The client identifier a browser carries: a random token in a cookie, hashed on the server.

The web layer reads and writes the cookie here; services only ever see the token's hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from flask import Request, Response, current_app


COOKIE_NAME = "oneclick_client"
COOKIE_MAX_AGE = 400 * 24 * 60 * 60  # the longest lifetime browsers accept
TOKEN_BYTES = 32  # 256 bits
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from(request: Request) -> str | None:
    """The well-formed token the browser sent, or None (absent, truncated or tampered with)."""
    token = request.cookies.get(COOKIE_NAME, "")
    return token if TOKEN_PATTERN.match(token) else None


def set_token_cookie(response: Response, token: str) -> None:
    # HttpOnly: scripts never see it. Lax: sent on top-level navigation, not cross-site POSTs.
    # Secure wherever the session cookie is (everywhere but development and tests).
    response.set_cookie(COOKIE_NAME, token, max_age=COOKIE_MAX_AGE, httponly=True,
                        samesite="Lax", secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
                        path="/")
