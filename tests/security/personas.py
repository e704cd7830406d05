"""Requests as a persona, and a cheap snapshot of the whole database to prove nothing changed."""

from __future__ import annotations

import secrets

from itsdangerous import URLSafeTimedSerializer

from portal.accounts.login_sessions import Lifetimes, start_login_session
from portal.accounts.models import User
from portal.clock import utcnow
from portal.extensions import db
from portal.oneclick.identifiers import COOKIE_NAME
from tests.conftest import BrowserLikeClient
from tests.security.snapshot import table_digests

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ORIGIN = "http://localhost"


class Persona:
    """A browser of its own, logged in as ``user`` (or anonymous), holding a CSRF token.

    The login is written straight into the session cookie (as Flask-Login would after /login,
    with a signed-in session on the server), so that six personas per route cost no password
    hashing; tests/accounts cover /login.
    A shopper's browser may carry their 1-Click client identifier cookie."""

    def __init__(self, app, name: str, user: User | None, oneclick_token: str | None = None):
        self.name = name
        self.user = user
        self.client = BrowserLikeClient(app, app.response_class, use_cookies=True)
        if oneclick_token:  # the browser where this person turned 1-Click on
            self.client.set_cookie(COOKIE_NAME, oneclick_token)
        raw = secrets.token_hex(20)
        with self.client.session_transaction() as session:
            session["csrf_token"] = raw
            self.login_session_id = None
            if user is not None:
                session["_user_id"] = signed_in(app, user)
                session["_fresh"] = True
                self.login_session_id = int(session["_user_id"].split(":")[0])
        secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key
        self.csrf_token = URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)

    def send(self, method: str, path: str, data: dict | None = None, htmx: bool = False):
        """``method`` on ``path`` as this persona; unsafe methods carry a valid CSRF token in
        the header htmx uses, and our own Origin."""
        headers = {"Origin": ORIGIN}
        if method not in SAFE_METHODS:
            headers["X-CSRFToken"] = self.csrf_token
        if htmx:
            headers["HX-Request"] = "true"
        # buffered: a streamed body (CSV) is read inside the request, which releases its session
        return self.client.open(path, method=method, data=data or {}, headers=headers,
                                buffered=True)


def signed_in(app, user: User, label: str = "Persona browser") -> str:
    """A new signed-in session of ``user`` on the server; the identifier its browser keeps."""
    _login, identifier = start_login_session(
        db.session, user=user, label=label, remember=False, now=utcnow(),
        lifetimes=Lifetimes.from_config(app.config))
    return identifier


def acting_for(persona: Persona, member: User) -> Persona:
    """``persona`` (staff) acting for ``member`` in its browser, as after "Act for" (written
    straight into its signed-in session's row; tests/support cover the button)."""
    from portal.accounts.models import LoginSession

    db.session.get(LoginSession, persona.login_session_id).acting_for_id = member.id
    db.session.flush()
    return persona


database_snapshot = table_digests


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))
