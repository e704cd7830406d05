"""Password reset by mail: a signed link that expires and works once.

The link carries the person's id and a fingerprint of their current password hash and session
generation, signed with the secret key. Setting a new password changes both, so a used link,
or one sent before any later password change, no longer matches: single use without storing
anything.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Callable

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.login_sessions import end_every_login_session
from portal.accounts.models import User
from portal.accounts.passwords import hash_password
from portal.accounts.services import check_password_rules, normalise_email
from portal.clock import utcnow
from portal.errors import DomainError
from portal.mail.models import OutboxMessage
from portal.mail.services import queue_mail

_SALT = "password-reset"


class ResetLinkError(DomainError):
    """A link that was never valid: mistyped, cut short or forged."""

    status = 400


class ResetLinkExpired(ResetLinkError):
    status = 410


class ResetLinkUsed(ResetLinkError):
    status = 410


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}:{user.session_generation}".encode()).hexdigest()


def make_reset_token(user: User, *, secret_key: str) -> str:
    return _serializer(secret_key).dumps({"user": user.id, "fp": _fingerprint(user)})


def request_password_reset(session: Session, *, email: str, secret_key: str,
                           link_for: Callable[[str], str], max_age_minutes: int,
                           company_name: str) -> OutboxMessage | None:
    """Mail a reset link to the active account with this email. None when there is no such
    account: the caller answers the same either way, so nobody learns which addresses exist."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not user.active:
        return None
    link = link_for(make_reset_token(user, secret_key=secret_key))
    body = (f"Hello {user.first_name},\n\n"
            f"someone, we hope you, asked to reset the password of your {company_name} account.\n"
            f"To choose a new password, open this link within {max_age_minutes} minutes:\n\n"
            f"{link}\n\n"
            "The link works once. If you did not ask for it, ignore this mail: your password "
            "stays as it is.\n")
    return queue_mail(session, user=user, subject="Reset your password", body=body)


def user_for_reset_token(session: Session, token: str, *, secret_key: str,
                         max_age_minutes: int, lock: bool = False) -> User:
    """The person a reset link is for; raises ResetLinkError (forged), ResetLinkExpired or
    ResetLinkUsed. ``lock`` holds the person's row until the transaction ends."""
    try:
        data = _serializer(secret_key).loads(token, max_age=max_age_minutes * 60)
    except SignatureExpired:
        raise ResetLinkExpired("This password reset link has expired.") from None
    except BadSignature:
        raise ResetLinkError("This password reset link is not valid. It may have been cut "
                             "short: copy the whole link from the mail.") from None
    user_id = data.get("user") if isinstance(data, dict) else None
    fingerprint = data.get("fp") if isinstance(data, dict) else None
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        raise ResetLinkError("This password reset link is not valid.")
    user = session.get(User, user_id, with_for_update=True if lock else None,
                       populate_existing=lock)
    if user is None or not user.active or not hmac.compare_digest(fingerprint, _fingerprint(user)):
        raise ResetLinkUsed("This password reset link has already been used, or the password "
                            "was changed after it was sent.")
    return user


def reset_password(session: Session, *, token: str, new: str, secret_key: str,
                   max_age_minutes: int) -> User:
    """Set a new password through a reset link, which this uses up; every session of the person
    ends (the session generation moves on). Raises ResetLinkError or PasswordError."""
    user = user_for_reset_token(session, token, secret_key=secret_key,
                                max_age_minutes=max_age_minutes, lock=True)
    check_password_rules(new, "new")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_every_login_session(session, user=user)
    return user
