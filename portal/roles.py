"""Who may use what: the role checks every blueprint shares.

| role | may |
| --- | --- |
| member, IBO | shop, keep standing orders, addresses and cards (IBOs: see their team) |
| support | find members, read a member's page, add staff notes, act for a member on the
  member's own standing-order, address and cart pages, refund up to SUPPORT_REFUND_LIMIT |
| admin | all that support may (refunds without a limit of their own), and edit the catalog,
  stock, rank plan, autoship and planning runs |

Acting for a member (``portal.acting``) lets staff through ``shopper_required`` on the
endpoints listed in ``portal.acting.ACTING_ENDPOINTS`` only, as that member.
"""

from __future__ import annotations

from decimal import Decimal
from functools import wraps

from flask import abort, current_app
from flask_login import current_user

from portal import acting
from portal.accounts.models import Role, User


def role_required(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:  # as @login_required: log in, then come back
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, "Your account cannot use this page.")
            return view(*args, **kwargs)
        return wrapped
    return decorator


def shopper_required(view):
    """A shopper's own pages: members and IBOs, and staff acting for one of them on the pages
    acting allows (``portal.acting``), where the page then belongs to that member."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if current_user.role not in (Role.MEMBER, Role.IBO) and not acting.acting_here():
            if acting.acting_for() is not None:
                abort(403, "While you act for a member you can change their standing orders, "
                           "addresses and cart; stop acting for them to use anything else.")
            abort(403, "Your account cannot use this page.")
        return view(*args, **kwargs)
    return wrapped


ibo_required = role_required(Role.IBO)
admin_required = role_required(Role.ADMIN)
staff_required = role_required(Role.ADMIN, Role.SUPPORT)  # looks at members, acts for them


def refund_limit(user: User, config) -> Decimal | None:
    """The most ``user`` may refund at once: None for admins (the order's own limits only),
    SUPPORT_REFUND_LIMIT for support, nothing for anybody else. Refunds pass it to the refund
    service, which refuses more."""
    if user.role == Role.ADMIN:
        return None
    if user.role == Role.SUPPORT:
        return Decimal(str(config["SUPPORT_REFUND_LIMIT"]))
    return Decimal("0")
