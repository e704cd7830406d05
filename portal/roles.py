"""Who may use what: the role checks every blueprint shares."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app
from flask_login import current_user


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


shopper_required = role_required("member", "ibo")
ibo_required = role_required("ibo")
admin_required = role_required("admin")
