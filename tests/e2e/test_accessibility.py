"""Every main page, as the person who uses it, passes axe-core without a serious or critical
violation; each is screenshotted on the way. The tour is checked against the URL map, so a new
page without a place on it fails the suite."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from werkzeug.exceptions import NotFound

from portal.oneclick.identifiers import COOKIE_NAME
from tests.e2e.axe import axe_violations, describe, failing
from tests.e2e.conftest import hand_over, log_in
from tests.security.routes import previous_period_text
from tests.world import World, build_world, reset_token


@dataclass(frozen=True)
class Page:
    who: str  # anonymous, member, ibo, admin, support or acting (support acting for the member)
    endpoint: str
    path: Callable[[World], str]


def at(path: str) -> Callable[[World], str]:
    return lambda world: path


def of_owner(path: str, thing: str) -> Callable[[World], str]:
    """``path`` with the id of the owner's ``thing`` (an attribute of tests/world.py's Holdings)."""
    return lambda world: path.format(getattr(world.of(world.owner), thing).id)


PAGES = [
    Page("anonymous", "accounts.login", at("/login")),
    Page("anonymous", "accounts.register", at("/register")),
    Page("anonymous", "accounts.forgot_password", at("/password/forgot")),
    Page("anonymous", "accounts.reset_password", lambda w: f"/password/reset/{reset_token(w.owner)}"),
    Page("anonymous", "catalog.index", at("/shop/")),
    Page("anonymous", "catalog.product", lambda w: f"/shop/products/{w.second_product.id}"),
    Page("anonymous", "home.index", at("/")),  # redirects to the shop

    Page("member", "home.dashboard", at("/home")),
    Page("member", "catalog.index", at("/shop/")),
    Page("member", "catalog.product", lambda w: f"/shop/products/{w.second_product.id}"),
    Page("member", "cart.view", at("/cart/")),
    Page("member", "checkout.start", at("/checkout/")),
    Page("member", "orders.history", at("/orders/")),
    Page("member", "orders.detail", of_owner("/orders/{}", "order")),
    Page("member", "orders.confirmation", of_owner("/orders/{}/confirmation", "order")),
    Page("member", "addresses.index", at("/addresses/")),
    Page("member", "addresses.new", at("/addresses/new")),
    Page("member", "addresses.edit", of_owner("/addresses/{}/edit", "address")),
    Page("member", "payments.wallet", at("/wallet/")),
    Page("member", "payments.new", at("/wallet/new")),
    Page("member", "autoship.index", at("/autoship/")),
    Page("member", "autoship.new", at("/autoship/new")),
    Page("member", "autoship.profile", of_owner("/autoship/{}", "profile")),
    Page("member", "retention.swap_page",
         lambda w: f"/autoship/{w.of(w.owner).profile.id}/items/{w.of(w.owner).item.id}/swap"),
    Page("member", "retention.reason_page",  # with a reason chosen: its offers shown too
         lambda w: f"/autoship/{w.of(w.owner).profile.id}/cancel?reason=too_expensive"),
    Page("member", "loyalty.index", at("/points/")),
    Page("member", "next_shipment.added", lambda w: f"/autoship/next-shipment/{w.of(w.owner).one_time_key}"),
    Page("member", "oneclick.settings", at("/1-click/settings")),
    Page("member", "oneclick.devices", at("/1-click/")),
    Page("member", "oneclick.placed", lambda w: f"/1-click/placed/{w.of(w.owner).press_key}"),
    Page("member", "oneclick.order", of_owner("/1-click/orders/{}", "oneclick_order")),
    Page("member", "accounts.password", at("/account/password")),
    Page("member", "mail.notifications", at("/notifications/")),

    Page("ibo", "home.dashboard", at("/home")),
    Page("ibo", "genealogy.downline", at("/downline/")),
    Page("ibo", "downline.index", at("/team/")),  # redirects to the autoships table
    Page("ibo", "downline.autoships", at("/team/autoships")),
    Page("ibo", "downline.totals", at("/team/totals")),
    Page("ibo", "downline.attention", at("/team/attention")),
    Page("ibo", "downline.tree", at("/team/tree")),
    Page("ibo", "downline.recruits", lambda w: f"/team/tree/{w.frontline_ibo.member_number}"),
    Page("ibo", "downline.person", lambda w: f"/team/people/{w.frontline_ibo.member_number}"),
    Page("ibo", "volume.report_card", at("/volume")),
    Page("member", "volume.report_card", at("/volume")),  # their own PV only
    Page("ibo", "team_volume.index", at("/team/volume")),

    Page("admin", "admin.index", at("/admin/")),
    Page("admin", "support.members", at("/admin/members?q=o")),
    Page("admin", "support.member", lambda w: f"/admin/members/{w.owner.member_number}"),

    Page("support", "support.members", at("/admin/members")),
    Page("support", "support.member", lambda w: f"/admin/members/{w.owner.member_number}"),
    # support acting for the owner: the member's pages with the banner
    Page("acting", "autoship.index", at("/autoship/")),
    Page("acting", "autoship.profile", of_owner("/autoship/{}", "profile")),
    Page("acting", "addresses.index", at("/addresses/")),
    Page("acting", "cart.view", at("/cart/")),
    Page("acting", "catalog.product", lambda w: f"/shop/products/{w.second_product.id}"),

    Page("admin", "admin.products", at("/admin/products")),
    Page("admin", "admin.new_product", at("/admin/products/new")),
    Page("admin", "admin.orders", at("/admin/orders")),
    Page("admin", "admin.order", of_owner("/admin/orders/{}", "order")),
    Page("admin", "admin.outbox", at("/admin/outbox")),
    Page("admin", "autoship_admin.runs", at("/admin/autoship/")),
    Page("admin", "autoship_admin.run", lambda w: f"/admin/autoship/runs/{w.run.id}"),
    Page("admin", "autoship_admin.forecast_page", at("/admin/autoship/forecast")),
    Page("admin", "autoship_admin.payments", at("/admin/autoship/payments")),
    Page("admin", "autoship_admin.profiles", at("/admin/autoship/profiles")),
    Page("admin", "autoship_admin.profile", of_owner("/admin/autoship/profiles/{}", "profile")),
    Page("admin", "retention_admin.report", at("/admin/retention/")),
    Page("admin", "retention_admin.replacements_page", at("/admin/retention/replacements")),
    Page("admin", "retention_admin.replacement", lambda w: f"/admin/retention/replacements/{w.replacement.id}"),
    Page("admin", "fulfilment.plan", at("/admin/fulfilment/")),
    Page("admin", "fulfilment.shipment", lambda w: f"/admin/fulfilment/shipments/{w.shipment.id}"),
    Page("admin", "fulfilment.waiting", at("/admin/fulfilment/waiting")),
    Page("admin", "fulfilment.runs", at("/admin/fulfilment/runs")),
    Page("admin", "fulfilment.stock", at("/admin/fulfilment/stock")),
    Page("admin", "fulfilment.inventory", at("/admin/fulfilment/inventory")),
    Page("admin", "fulfilment.tracking", at("/admin/fulfilment/tracking")),
    Page("admin", "downline.autoships", at("/team/autoships")),  # the IBO picker
    Page("admin", "volume_admin.index", at("/admin/volume/")),
    Page("admin", "volume_admin.plan", at("/admin/volume/plan")),
    Page("admin", "volume_admin.advancement", lambda w: f"/admin/volume/periods/{previous_period_text()}/advancement"),
]

# GET endpoints that are not pages of the portal, and why.
NOT_PAGES = {
    "static": "files",
    "oneclick.healthz": "a health check for load balancers",
    "cart.badge": "an htmx fragment of the header (checked inside every page)",
    "autoship.preview": "an htmx fragment of the schedule form (checked inside the profile page)",
    "autoship.schedule_fields": "an htmx fragment: one kind's schedule fields (checked inside the profile page)",
    "autoship.item_units": "an htmx fragment: the chosen product's unit select (checked inside the profile page)",
    "autoship.calendar_feed": "an iCalendar feed",
    "downline.autoships_csv": "a CSV download",
    "team_volume.export": "a CSV download",
    "volume_admin.progress": "an htmx fragment the periods page polls (checked inside it while a recompute runs)",
}
THIRD_PARTY = ("rq_dashboard.",)

# Who tours as whom in tests/world.py: the member is the owner, the IBO the owner's upline.
PERSONA = {"anonymous": "anon", "member": "owner", "ibo": "upline", "admin": "admin",
           "support": "support", "acting": "support"}  # rq-dashboard's own pages

# Error pages in the portal's look, reached as anyone.
ERROR_PAGES = [("anonymous", "/shop/products/999999", 404), ("member", "/admin/", 403),
               ("anonymous", "/password/reset/not-a-link", 400)]


class AxeNotice(UserWarning):
    """A moderate or minor axe finding: reported, not failed."""


def page_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
            and not rule.endpoint.startswith(THIRD_PARTY)}


def test_the_tour_visits_every_page_of_the_portal(app):
    toured = {page.endpoint for page in PAGES}
    missing = page_endpoints(app) - toured
    assert not missing, ("pages without a place on the accessibility tour (add them to PAGES, "
                         f"or to NOT_PAGES with a reason): {sorted(missing)}")
    assert not toured - page_endpoints(app), "PAGES names endpoints that do not exist"


def test_the_tour_urls_are_the_pages_they_claim(app, session, redis):
    world = build_world(session, redis)
    urls = app.url_map.bind("localhost")
    for page in PAGES:
        try:
            endpoint, _ = urls.match(page.path(world).split("?")[0], method="GET")
        except NotFound:
            endpoint = None
        assert endpoint == page.endpoint, page


def start_tour(who, session, redis, new_context, live_server, **context_options):
    """A browser page logged in as ``who`` of tests/world.py, and the (name, url, status) of
    every page of the tour that ``who`` visits, error pages included."""
    world = build_world(session, redis)
    visits = [(p.endpoint, p.path(world), 200) for p in PAGES if p.who == who]
    visits += [(f"error {status}", url, status) for role, url, status in ERROR_PAGES if role == who]
    person = world.persona(PERSONA[who])
    email, oneclick_token = person and person.email, world.of(world.owner).client_token
    hand_over(session)
    context = new_context(**context_options)
    if who == "member":  # this browser has 1-Click on for the owner
        context.add_cookies([{"name": COOKIE_NAME, "value": oneclick_token, "url": live_server}])
    page = context.new_page()
    if email:
        log_in(page, email)
    if who == "acting":  # "Act for" on the owner's member page, as staff press it
        page.goto(f"/admin/members/{world.owner.member_number}")
        page.get_by_role("button", name=f"Act for {world.owner.first_name}").click()
        page.wait_for_url("**/autoship/")
    return page, visits


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "member", "ibo", "admin", "support", "acting"])
def test_every_page_passes_axe(who, session, redis, new_context, live_server, shoot):
    page, visits = start_tour(who, session, redis, new_context, live_server)
    problems = []
    for name, url, status in visits:
        response = page.goto(url)
        if response.status != status:
            problems.append(f"{name} ({url}): HTTP {response.status}, expected {status}")
            continue
        shoot(page, name)
        violations = axe_violations(page)
        bad = failing(violations)
        if bad:
            problems.append(f"{name} ({url}):\n{describe(bad)}")
        if lesser := [v for v in violations if v not in bad]:
            warnings.warn(f"axe, moderate or minor, on {name} ({url}):\n{describe(lesser)}", AxeNotice)
    assert not problems, f"{len(problems)} of {len(visits)} pages as {who}:\n" + "\n".join(problems)


@pytest.mark.browser
@pytest.mark.slow
def test_the_check_finds_what_it_must(session, new_context):
    """The check can fail: a field without a label, a nameless button and faint text on a
    page are serious or critical violations."""
    page = new_context().new_page()
    page.goto("/login")
    page.evaluate("""() => {
        const main = document.querySelector('main');
        main.append(document.createElement('input'), document.createElement('button'));
        const faint = document.createElement('p');
        faint.textContent = 'Faint text';
        faint.style.color = '#aaaaaa';
        faint.style.backgroundColor = '#bbbbbb';
        main.append(faint);
    }""")
    found = {violation["id"] for violation in failing(axe_violations(page))}
    assert {"label", "button-name", "color-contrast"} <= found
