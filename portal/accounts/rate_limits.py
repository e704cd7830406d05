"""Rate limits on the forms that guess at or flood accounts: login, registration, password reset.

Only POSTs count, each against two limits: per client IP and per account (the normalised email
typed into the form, hashed so that Redis holds no addresses). The limits are read from the
config on every request (``RATE_LIMIT_<FORM>_PER_IP`` / ``_PER_ACCOUNT``), so the environment
(``PORTAL_RATE_LIMIT_LOGIN_PER_IP=...``) and tests can change them.
"""

from __future__ import annotations

import hashlib

from flask import current_app, request

from portal.accounts.services import normalise_email
from portal.extensions import limiter


def client_ip() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def posted_account() -> str:
    """The account a form is about; '' when no email was typed (then only the IP counts)."""
    email = normalise_email(request.form.get("email", ""))
    return f"account:{hashlib.sha256(email.encode()).hexdigest()}" if email else ""


def _configured(name: str):
    return lambda: current_app.config[name]


def limit_per_ip(form: str):
    return limiter.limit(_configured(f"RATE_LIMIT_{form}_PER_IP"), key_func=client_ip,
                         methods=["POST"], scope=f"{form.lower()}-ip")


def limit_per_account(form: str):
    return limiter.limit(_configured(f"RATE_LIMIT_{form}_PER_ACCOUNT"), key_func=posted_account,
                         methods=["POST"], scope=f"{form.lower()}-account",
                         exempt_when=lambda: not posted_account())


def limit_attempts(form: str):
    """Decorate a view (below its route) with both limits of ``form`` (LOGIN, REGISTER, ...)."""
    def decorator(view):
        return limit_per_ip(form)(limit_per_account(form)(view))
    return decorator
