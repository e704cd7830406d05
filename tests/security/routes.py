"""Every route of the portal with somebody's real ids, and the personas who ask for them.

The world is tests/world.py's. ``url_for_rule(rule, world, owner=...)`` fills a rule's arguments
from the world (the given person's things, the owner's by default), so a test can request any
route with somebody's real ids.
"""

from __future__ import annotations

from datetime import timedelta

from werkzeug.routing import Rule

from portal.accounts.models import User
from portal.clock import company_today
from tests.world import World, reset_token

# Who asks, in the authorization matrix's column order (World.persona gives the user).
PERSONAS = ("anon", "owner", "ibo", "other", "upline", "admin")


# --- Filling a rule's arguments ----------------------------------------------------------------

# Arguments whose meaning depends on the endpoint: (endpoint, argument) -> holdings/world getter.
_BY_ENDPOINT = {
    ("cart.change", "line_id"): lambda w, h: h.cart_line.id,
    ("cart.remove", "line_id"): lambda w, h: h.cart_line.id,
    ("oneclick.cancel_line", "line_id"): lambda w, h: h.oneclick_line.id,
    ("oneclick.cancel_line", "order_id"): lambda w, h: h.oneclick_order.id,
    ("oneclick.cancel_order", "order_id"): lambda w, h: h.oneclick_order.id,
    ("oneclick.order", "order_id"): lambda w, h: h.oneclick_order.id,
    ("orders.pay", "order_id"): lambda w, h: h.failed_order.id,
    ("autoship_admin.retry_payment", "order_id"): lambda w, h: h.failed_order.id,
    ("fulfilment.receive_line", "line_id"): lambda w, h: w.purchase_order_line.id,
    ("accounts.reset_password", "token"): lambda w, h: reset_token(h.user),
    ("next_shipment.added", "key"): lambda w, h: h.one_time_key,
    ("next_shipment.remove", "line_id"): lambda w, h: h.one_time_line.id,
}

# Everything else by argument name.
_BY_ARGUMENT = {
    "profile_id": lambda w, h: h.profile.id,
    "item_id": lambda w, h: h.item.id,
    "address_id": lambda w, h: h.address.id,
    "card_id": lambda w, h: h.card.id,
    "order_id": lambda w, h: h.order.id,
    "refund_id": lambda w, h: h.refund.id,
    "product_id": lambda w, h: w.product.id,
    "client_id": lambda w, h: h.client.id,
    "login_session_id": lambda w, h: h.login_session.id,
    "key": lambda w, h: h.press_key,
    "token": lambda w, h: h.calendar_token,
    "member_number": lambda w, h: h.user.member_number,
    "run_id": lambda w, h: w.run.id,
    "shipment_id": lambda w, h: w.shipment.id,
    "period": lambda w, h: previous_period_text(),  # a period over, which an admin may close
    "replacement_id": lambda w, h: w.replacement.id,
    # rq-dashboard
    "instance_number": lambda w, h: 0,
    "job_id": lambda w, h: w.job_id,
    "queue_name": lambda w, h: "default",
    "registry_name": lambda w, h: "failed",
    "per_page": lambda w, h: 8,
    "order": lambda w, h: "asc",
    "page": lambda w, h: 1,
    "filename": lambda w, h: "css/main.css",
}


def previous_period_text() -> str:
    last = company_today().replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


class UnknownArgument(LookupError):
    pass


def rule_arguments(rule: Rule, world: World, owner: User | None = None) -> dict:
    """Values for every argument of ``rule``, naming ``owner``'s things (default: the owner)."""
    holdings = world.of(owner or world.owner)
    values = {}
    for argument in sorted(rule.arguments):
        getter = _BY_ENDPOINT.get((rule.endpoint, argument)) or _BY_ARGUMENT.get(argument)
        if getter is None:
            raise UnknownArgument(
                f"{rule.endpoint} {rule.rule}: tests/security/routes.py does not know what "
                f"'<{argument}>' names; add it to _BY_ENDPOINT or _BY_ARGUMENT")
        values[argument] = getter(world, holdings)
    return values


def url_for_rule(rule: Rule, world: World, owner: User | None = None) -> str:
    """The path of ``rule`` itself (not another rule of the same endpoint) with ``owner``'s ids."""
    _domain, path = rule.build(rule_arguments(rule, world, owner))
    return path
