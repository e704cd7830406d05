"""The page-or-fragment rendering every view uses, the filters and globals every page shares
(money, volumes, counts and dates from ``portal.formatting``, navigation) and the security
headers of every answer.

What a page shows of one concept reaches templates from that concept's blueprint: the cart
count from ``portal.cart.views``, unit names from ``portal.catalog.views``, order numbers from
``portal.orders.views``. So this module imports no concept."""

from __future__ import annotations

from flask import Flask, current_app, render_template
from flask_login import current_user
from htmx_flask import request
from markupsafe import Markup

from portal import acting, formatting


def render(template: str, fragment: str | None = None, status: int = 200, **context):
    """The whole page, or only its fragment for an htmx request (varying on HX-Request)."""
    chosen = fragment if fragment and request.htmx else template
    response = current_app.make_response((render_template(chosen, **context), status))
    response.vary.add("HX-Request")
    return response


def render_fragment(template: str, status: int = 200, **context):
    """An htmx fragment that uses only its own context and the Jinja globals (``url_for``,
    ``csrf_token``, filters), rendered without the context processors: none of the page's
    globals (navigation, cart count, the logged-in user) are computed. For hot endpoints."""
    html = current_app.jinja_env.get_template(template).render(**context)
    response = current_app.response_class(html, status, mimetype="text/html")
    response.vary.add("HX-Request")
    return response


NAVIGATION = (  # (endpoint, label, who may see it)
    ("catalog.index", "Shop", {"member", "ibo"}),
    ("orders.history", "Orders", {"member", "ibo"}),
    ("autoship.index", "Autoship", {"member", "ibo"}),
    ("volume.report_card", "Volume", {"member", "ibo"}),
    ("loyalty.index", "Points", {"member", "ibo"}),
    ("downline.autoships", "Your team", {"ibo"}),  # the whole downline is one of its tabs
    ("addresses.index", "Addresses", {"member", "ibo"}),
    ("payments.wallet", "Wallet", {"member", "ibo"}),
    ("oneclick.devices", "1-Click", {"member", "ibo"}),
    ("admin.index", "Operations", {"admin"}),
    ("autoship_admin.runs", "Autoship runs", {"admin"}),
    ("support.members", "Members", {"admin", "support"}),
    ("admin.products", "Products", {"admin"}),
    ("admin.orders", "All orders", {"admin"}),
    ("fulfilment.plan", "Fulfilment", {"admin"}),
    ("volume_admin.index", "Volume and ranks", {"admin"}),
    ("admin.outbox", "Outbox", {"admin"}),
)


def navigation() -> list[tuple[str, str]]:
    if not current_user.is_authenticated:
        return [("catalog.index", "Shop")]
    return [(endpoint, label) for endpoint, label, roles in NAVIGATION if current_user.role in roles]


def register(app: Flask) -> None:
    for writer in (formatting.money, formatting.volume, formatting.number, formatting.counted,
                   formatting.day, formatting.local_time):
        app.add_template_filter(writer)
    app.jinja_env.globals["navigation"] = navigation
    app.jinja_env.globals["shopper"] = acting.shopper  # whose shopping pages these are
    app.jinja_env.globals["acting_for"] = acting.acting_for  # the banner: None, or the member
    app.jinja_env.globals["company_name"] = app.config["COMPANY_NAME"]

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.blueprint == "rq_dashboard":  # third-party pages with inline scripts
            policy = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                      "script-src 'self' 'unsafe-inline' 'unsafe-eval'; frame-ancestors 'none'")
        else:
            policy = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                      "script-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                      "base-uri 'self'")
        response.headers.setdefault("Content-Security-Policy", policy)
        # Any page may show personal data (the header names who is logged in; a 1-Click order
        # opens on its browser's cookie alone), so no response is kept by the browser or any
        # cache on the way, unless it is a file we serve (those carry their own Cache-Control)
        # or its view chose otherwise (the calendar feed: private, five minutes).
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        hsts_seconds = int(current_app.config["HSTS_SECONDS"])
        if hsts_seconds > 0:  # browsers ignore it on plain http, so it is sent on every answer
            response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts_seconds}")
        return response


__all__ = ["Markup", "render", "render_fragment"]
