"""Notifications: a person's own mail from the portal, readable in the portal too (a notice
that did not reach the inbox is still here). Everyone logged in has one; nobody sees
another's, since the list is always the viewer's own."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user, login_required

from portal.extensions import db
from portal.mail.queries import body_parts, notifications_query
from portal.pagination import page_number, paginate
from portal.templating import render

bp = Blueprint("mail", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def notifications():
    page = paginate(db.session, notifications_query(current_user.id),
                    page_number(request.args.get("page")), current_app.config["ADMIN_PAGE_SIZE"])
    return render("mail/notifications.html", "mail/_notifications.html", page=page,
                  body_parts=body_parts)
