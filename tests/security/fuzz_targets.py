"""Every unsafe route the fuzz tests post to: who may use it, and where its form is.

A target names the pages (GET endpoints, filled from the world with the owner's ids, or
functions of the world) that render its form; the fields are read from those pages. A form
that no page shows in the world (a button that only appears in another state) has its
fields written down instead. ``tests/security/test_fuzz_forms.py`` fails when an unsafe
route has no entry here, or when a page no longer shows the form its target names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.world import World

PageSpec = str | Callable[[World], str]


@dataclass(frozen=True)
class Target:
    endpoint: str
    persona: str                      # who may use it (see tests/security/routes.py PERSONAS)
    pages: tuple[PageSpec, ...] = ()  # where its form is rendered
    fields: dict[str, str] | None = None  # name -> kind, when no page shows the form
    browser: bool = False             # the client carries the owner's 1-Click browser cookie


NO_FIELDS: dict[str, str] = {}  # a button: only the CSRF token


def _own_order(attribute: str, page: str) -> Callable[[World], str]:
    """An order page (``page`` % id) for one of the owner's orders, e.g. the failed one."""

    def path(world: World) -> str:
        return page % getattr(world.of(world.owner), attribute).id
    path.__name__ = f"{page % attribute}"
    return path


def _product_page(world: World) -> str:
    return f"/shop/products/{world.product.id}"


def _placed_page(world: World) -> str:
    return f"/1-click/placed/{world.of(world.owner).press_key}"


TARGETS = {target.endpoint: target for target in (
    # Anybody
    Target("accounts.login", "anon", pages=("accounts.login",)),
    Target("accounts.register", "anon", pages=("accounts.register",)),
    Target("accounts.forgot_password", "anon", pages=("accounts.forgot_password",)),
    Target("accounts.reset_password", "anon", pages=("accounts.reset_password",)),
    # A browser with 1-Click on (the owner's), logged in or not: ordering needs no login
    Target("oneclick.buy", "owner", pages=(_product_page, "catalog.index"), browser=True),
    Target("oneclick.cancel_press", "anon", pages=(_placed_page,), browser=True),
    Target("oneclick.cancel_order", "owner", pages=("oneclick.order",), browser=True),
    Target("oneclick.cancel_line", "anon", pages=("oneclick.order",), browser=True),
    # A shopper (member or IBO), about their own things
    Target("accounts.logout", "owner", pages=("home.dashboard",)),
    Target("accounts.password", "owner", pages=("accounts.password",)),
    Target("accounts.logout_everywhere", "owner", pages=("accounts.password",)),
    Target("accounts.end_session", "owner", pages=("accounts.password",)),  # the phone's session
    Target("addresses.new", "owner", pages=("addresses.new",)),
    Target("addresses.edit", "owner", pages=("addresses.edit",)),
    Target("addresses.make_default", "owner", fields=NO_FIELDS),  # the only address is the default
    Target("addresses.remove", "owner", pages=("addresses.index",)),
    Target("payments.new", "owner", pages=("payments.new",)),
    Target("payments.make_default", "owner", pages=("payments.wallet",)),
    Target("payments.remove", "owner", pages=("payments.wallet",)),
    Target("cart.add", "owner", pages=(_product_page,)),
    Target("cart.change", "owner", pages=("cart.view",)),
    Target("cart.remove", "owner", pages=("cart.view",)),
    Target("checkout.place", "owner", pages=("checkout.start",)),
    Target("orders.pay", "owner", pages=(_own_order("failed_order", "/orders/%s"),)),
    Target("autoship.new", "owner", pages=("autoship.new",)),
    Target("autoship.from_cart", "owner", pages=("cart.view",)),
    Target("autoship.subscribe", "owner", pages=(_product_page,)),
    Target("autoship.calendar_token", "owner", pages=("autoship.index",)),
    Target("loyalty.choose", "owner", pages=("autoship.profile",)),
    *(Target(f"autoship.{name}", "owner", pages=("autoship.profile",)) for name in (
        "add_item", "change_item", "remove_item", "change_schedule", "change_next_date", "skip",
        "unskip", "pause", "ship_now", "rename", "delivery")),
    Target("autoship.cancel", "owner", pages=("retention.reason_page",)),  # the reason page's form
    Target("retention.swap", "owner", pages=("retention.swap_page",)),
    # the offers are buttons of the reason page's form (formaction), shown once a reason is chosen
    Target("retention.take_offer", "owner", fields={
        "reason": "choice", "details": "text", "key": "hidden", "offer": "hidden", "skip_day": "date",
        "resume_on": "date", "later_day": "date", "months": "choice", "item_id": "id",
        "product_id": "id", "unit": "choice"}),
    Target("autoship.resume", "owner", fields=NO_FIELDS),  # shown only on a paused profile
    Target("autoship.change_resume_date", "owner", fields={"resume_on": "date"}),  # paused only
    Target("next_shipment.add", "owner", pages=(_product_page, "catalog.index")),
    Target("next_shipment.remove", "owner", pages=("autoship.profile",)),
    Target("oneclick.settings", "owner", pages=("oneclick.settings",)),
    Target("oneclick.enable_from_order", "owner", pages=(_own_order("order", "/orders/%s/confirmation"),)),
    Target("oneclick.off_here", "owner", pages=("oneclick.devices",), browser=True),
    Target("oneclick.off_device", "owner", fields=NO_FIELDS),  # shown only for other browsers
    Target("oneclick.off_everywhere", "owner", pages=("oneclick.devices",), browser=True),
    # Staff (admins and support) on a member's page
    Target("support.add_note", "support", pages=("support.member",)),
    Target("support.start_acting", "support", pages=("support.member",)),
    Target("support.stop_acting", "support", fields=NO_FIELDS),  # shown only while acting
    # Admins
    Target("admin.new_product", "admin", pages=("admin.new_product",)),
    Target("admin.set_stock", "admin", pages=("admin.products",)),
    Target("admin.toggle_active", "admin", pages=("admin.products",)),
    Target("refunds.create", "admin", pages=("admin.order",)),
    Target("refunds.retry", "admin", pages=("admin.order",)),  # the world's refund waits for the gateway
    Target("autoship_admin.start", "admin", pages=("autoship_admin.runs",)),
    Target("volume_admin.save", "admin", pages=("volume_admin.plan",)),
    Target("volume_admin.recompute_chosen", "admin", pages=("volume_admin.index",)),
    Target("volume_admin.recompute", "admin", fields=NO_FIELDS),  # shown beside computed periods
    Target("volume_admin.close", "admin", fields={"confirm": "text"}),
    Target("autoship_admin.retry", "admin", fields=NO_FIELDS),  # shown only after a failed chunk
    Target("autoship_admin.retry_payment", "admin", pages=("autoship_admin.payments",)),
    Target("retention_admin.start", "admin", pages=("retention_admin.replacements_page",)),
    Target("fulfilment.plan_now", "admin", pages=("fulfilment.plan",)),
    Target("fulfilment.release", "admin", pages=("fulfilment.plan",)),
    Target("fulfilment.ship", "admin",  # its form shows only for released shipments
           fields={"carrier": "text", "numbers": "text", "shipped_on": "date"}),
    Target("fulfilment.add_receipt", "admin", pages=("fulfilment.inventory",)),
    Target("fulfilment.add_arrival", "admin", pages=("fulfilment.inventory",)),
    Target("fulfilment.receive_line", "admin", pages=("fulfilment.inventory",)),
    Target("fulfilment.upload_receipts", "admin", pages=("fulfilment.inventory",)),
    Target("fulfilment.upload_arrivals", "admin", pages=("fulfilment.inventory",)),
    Target("fulfilment.upload_tracking", "admin", pages=("fulfilment.tracking",)),
)}

# Unsafe routes the fuzz leaves alone, with the reason.
NOT_FUZZED = {
    "rq_dashboard": "rq-dashboard's own actions: admin-only, same-origin only, covered by the "
                    "authorization matrix; their inputs are job and queue names, not forms",
}


def is_fuzzed_elsewhere(endpoint: str) -> bool:
    return endpoint.split(".")[0] in NOT_FUZZED


# --- Pages (GET): who looks at them; their query strings are fuzzed --------------------------

# Every page, with the personas it is fuzzed as: a person's pages as the owner, team pages as
# the upline and as an admin (who picks an IBO with ?as=).
_OWNER = ("owner",)
_ADMIN = ("admin",)
_TEAM = ("upline", "admin")
PAGE_PERSONAS = {
    "home.index": ("anon", "owner", "admin"), "home.dashboard": ("owner", "upline"),
    "catalog.index": ("anon", "owner"), "catalog.product": ("anon", "owner"),
    "accounts.login": ("anon",), "accounts.register": ("anon",), "accounts.password": _OWNER,
    "accounts.forgot_password": ("anon",), "accounts.reset_password": ("anon",),
    "oneclick.healthz": ("anon",), "autoship.calendar_feed": ("anon",),
    "oneclick.placed": ("anon", "owner"), "oneclick.order": ("anon", "owner"),
    "oneclick.devices": _OWNER, "oneclick.settings": _OWNER,
    "addresses.index": _OWNER, "addresses.new": _OWNER, "addresses.edit": _OWNER,
    "payments.wallet": _OWNER, "payments.new": _OWNER,
    "cart.view": _OWNER, "cart.badge": _OWNER, "checkout.start": _OWNER,
    "orders.history": _OWNER, "orders.detail": _OWNER, "orders.confirmation": _OWNER,
    "autoship.index": _OWNER, "autoship.new": _OWNER, "autoship.preview": _OWNER,
    "autoship.schedule_fields": _OWNER, "autoship.item_units": _OWNER,
    "autoship.profile": _OWNER,
    "retention.swap_page": _OWNER, "retention.reason_page": _OWNER,
    **{f"retention_admin.{name}": _ADMIN for name in ("report", "replacements_page", "replacement")},
    "loyalty.index": _OWNER,
    "next_shipment.added": _OWNER, "mail.notifications": ("owner", "upline", "admin"),
    "genealogy.downline": ("upline",),
    **{f"downline.{name}": _TEAM for name in (
        "index", "autoships", "autoships_csv", "attention", "totals", "tree", "recruits", "person")},
    **{f"admin.{name}": _ADMIN for name in (
        "index", "new_product", "order", "orders", "outbox", "products")},
    "support.members": ("admin", "support"), "support.member": ("admin", "support"),
    **{f"autoship_admin.{name}": _ADMIN for name in (
        "runs", "run", "forecast_page", "payments", "profiles", "profile")},
    "volume.report_card": ("owner", "upline"),
    **{f"team_volume.{name}": _TEAM for name in ("index", "export")},
    **{f"volume_admin.{name}": _ADMIN for name in ("index", "plan", "progress", "advancement")},
    **{f"fulfilment.{name}": _ADMIN for name in (
        "plan", "inventory", "runs", "shipment", "stock", "waiting", "tracking")},
}
# Pages fuzzed from the owner's browser, the one with 1-Click on.
BROWSER_PAGES = {"oneclick.placed", "oneclick.order", "catalog.product", "catalog.index"}

# Query parameters read by some page and not always linked from it.
COMMON_PARAMETERS = ("page", "q", "cursor", "after", "next", "as", "size", "status", "sort", "level",
                     "kind", "role", "panel", "product", "sponsor", "next_from", "next_to")
EXTRA_PARAMETERS = {
    "autoship.preview": ("kind", "interval", "day", "nth", "weekday", "weekdays", "rrule", "regularity",
                         "first_date"),
    "autoship.schedule_fields": ("kind", "interval", "day", "nth", "weekday", "weekdays", "rrule"),
    "autoship.item_units": ("product_id", "unit"),
    "autoship_admin.forecast_page": ("from", "to"),
    "volume.report_card": ("period",),
    "team_volume.index": ("period", "close"),
    "team_volume.export": ("period",),
    "volume_admin.index": ("watch",),
    "volume_admin.advancement": ("show",),
    "retention.reason_page": ("reason", "details", "key", "step"),
}

