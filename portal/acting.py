"""Acting for a member: a staff member (admin or support) uses a member's own pages, as the
member would, with the member's own rules.

Why a mode on the member's pages rather than admin copies of them: the member's pages are
where the edit rules already live (cutoffs, locks, checks of what belongs to whom), and a copy
would drift. The mode is kept on the server with the signed-in session
(``LoginSession.acting_for_id``): starting and stopping it are audited, logging out ends it,
and every page shows the banner "You are acting for ... — Stop".

What keeps it safe:
- only staff can be in the mode (a member's session never is, whatever its row says: the
  role is checked on every request), and only for a member or IBO;
- the member's pages let staff in only for ``ACTING_ENDPOINTS`` (standing orders, addresses,
  cart, and the shop to add to the cart): never the wallet (no card is ever added for a
  member; a standing order picks among the stored cards, shown masked), checkout, 1-Click,
  the calendar link or the account;
- on those pages ``shopper`` is the member: every lookup is the member's own (another
  member's standing order is a 404, as for the member), and the services get the staff
  member as ``actor``, which writes "by <staff> for <member>" to the history and an
  ``AuditEntry`` for each change (``portal.accounts.audit``), and mails the member about
  changes to their standing orders.
"""

from __future__ import annotations

from flask import g
from flask_login import current_user
from htmx_flask import request
from werkzeug.local import LocalProxy

from portal.accounts.models import SHOPPER_ROLES, User
from portal.extensions import db

AUTOSHIP_ENDPOINTS = {f"autoship.{name}" for name in (
    "index", "new", "preview", "schedule_fields", "item_units", "profile", "add_item",
    "change_item", "remove_item", "change_schedule", "change_next_date", "skip", "unskip", "pause",
    "change_resume_date", "resume", "cancel", "ship_now", "rename", "delivery", "from_cart",
    "subscribe")}
ACTING_ENDPOINTS = frozenset(
    AUTOSHIP_ENDPOINTS
    | {f"addresses.{name}" for name in ("index", "new", "edit", "make_default", "remove")}
    | {f"cart.{name}" for name in ("view", "badge", "add", "change", "remove")}
    | {"catalog.index", "catalog.product"})


def note_login_session(acting_for_id: int | None) -> None:
    """Called by the user loader with the signed-in session's ``acting_for_id``."""
    g.acting_for_id = acting_for_id


def acting_for() -> User | None:
    """The member the logged-in staff member acts for in this browser, or None."""
    if not current_user.is_authenticated or not current_user.is_staff:
        return None
    member_id = g.get("acting_for_id")
    if member_id is None:
        return None
    if "acting_member" not in g:
        member = db.session.get(User, member_id)
        g.acting_member = member if member is not None and member.role in SHOPPER_ROLES else None
    return g.acting_member


def acting_here() -> bool:
    """Whether this request is on a member's page that the staff member may use for them."""
    return request.endpoint in ACTING_ENDPOINTS and acting_for() is not None


def current_shopper() -> User:
    """Whose shopping pages these are: the member acted for, on the pages acting allows;
    otherwise the logged-in person."""
    if acting_here():
        return acting_for()
    return current_user._get_current_object()


shopper: User = LocalProxy(current_shopper)  # type: ignore[assignment]
