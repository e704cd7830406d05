"""The authorization matrix: every route of the URL map, every method, as eight personas.

Each row of EXPECTED is the written-down answer of one route and method, in persona order

    anon owner ibo other upline admin

- anon: nobody logged in (a browser with no cookies);
- owner: the member whose things the URL names, in the upline's downline (their browser
  carries their 1-Click client identifier);
- ibo: an IBO outside the owner's upline;
- other: another member, in the ibo's downline, with things of their own (and their own
  1-Click browser);
- upline: the IBO the owner is sponsored by;
- admin.

A cell is an HTTP status, or ``L``: a redirect to /login (the page asks to log in and comes
back). Ids in a URL always name the owner's things (tests/world.py). Unsafe methods
carry a valid CSRF token and the owner's own request body (BODIES, or nothing), so a cell shows
the authorization answer, not a form error; and every refused cell (``L`` or 4xx) of an unsafe
method must leave the database exactly as it was.

Two more personas answer every route by a written rule from the row (so that a new route
needs only its six cells, and routes added on other branches merge without a seventh):

- support: a person of the support role. On ``SUPPORT_ALLOWED`` (the staff's member pages,
  the order page they link to) support answers as the admin does; on every other admin page
  (``/admin/...``) and on the team views (``/team/...``) as ``other``, a logged-in stranger
  (403, or the dashboard's 404); everywhere else as the admin (staff do not shop: 403; public
  and account pages alike). ``SUPPORT_ROWS`` writes a cell out where the rule does not fit.
- acting: a support person acting for ``other`` (portal/acting.py). On the member pages acting
  opens (``portal.acting.ACTING_ENDPOINTS``) it answers as ``other`` does, since it uses them
  as ``other``; the owner's ids are a stranger's there, so a 404 shows that acting reaches no
  other member. Everywhere else it answers as support.

A route or method without a row fails its test with the answers it gave, to be checked and
written down here. What is right: pages need a login (``L``); shoppers' things answer 404 to
everyone but their owner (existence does not leak), admins have no shopping pages (403); admin
pages are 403 to everyone else; the team pages answer an IBO about their own downline only
(the outsider gets 404 for the owner) and members 403; rq-dashboard is 404 to everyone but
admins.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import Rule

from portal import create_app
from portal.acting import ACTING_ENDPOINTS
from portal.config import TestConfig
from tests.security.personas import Persona, acting_for, changed_tables, database_snapshot
from tests.security.routes import PERSONAS, rule_arguments, url_for_rule
from tests.world import World, build_world

# --- Common rows -------------------------------------------------------------------------------
PUBLIC = "200 200 200 200 200 200"
SHOPPERS = "L 200 200 200 200 403"           # any shopper's own page; admins do not shop
OWNER_ONLY = "L 200 404 404 404 403"         # the owner's thing, named by id
OWNER_ACTS = "L 303 404 404 404 403"         # ... and changed by its owner
OWNER_REFUSED_INPUT = "L 422 404 404 404 403"  # owner reaches the form check, nobody else
ADMIN_PAGE = "L 403 403 403 403 200"
ADMIN_ACTS = "L 403 403 403 403 303"
ADMIN_INPUT = "L 403 403 403 403 422"        # an empty form: the admin reaches its checks
TEAM_PAGE = "L 403 200 403 200 200"          # IBOs (own downline), admins (a picker)
TEAM_PERSON = "L 403 404 403 200 404"        # a person in the upline's downline only
DASHBOARD = "404 404 404 404 404 200"        # rq-dashboard: hidden from all but admins
LOGGED_IN_BOUNCES = "{anon} 302 302 302 302 302"  # login/register pages send members home

EXPECTED = {
    # public
    "GET /": "302 302 302 302 302 302",  # to the shop, home or operations
    "GET /healthz": PUBLIC,
    "GET /shop/": PUBLIC,
    "GET /shop/products/<int:product_id>": PUBLIC,
    "GET /autoship/calendar/<token>.ics": PUBLIC,  # the secret link is the credential
    # accounts
    "GET /login": LOGGED_IN_BOUNCES.format(anon=200),
    "POST /login": LOGGED_IN_BOUNCES.format(anon=422),
    "GET /register": LOGGED_IN_BOUNCES.format(anon=200),
    "POST /register": LOGGED_IN_BOUNCES.format(anon=422),
    "POST /logout": "L L L L L L",  # anonymous: log in first; everyone else: logged out
    "GET /account/password": "L 200 200 200 200 200",
    "POST /account/password": "L 422 422 422 422 422",
    "POST /account/logout-everywhere": "L L L L L L",  # everyone ends up logged out (SIGN_OUTS)
    "POST /account/sessions/<int:login_session_id>/end": "L 303 404 404 404 404",  # own sessions only
    "GET /password/forgot": PUBLIC,
    "POST /password/forgot": "422 422 422 422 422 422",  # an empty form: no email
    "GET /password/reset/<token>": PUBLIC,  # the owner's live link: a bearer token
    "POST /password/reset/<token>": "422 422 422 422 422 422",  # no new password given
    "GET /home": "L 200 200 200 200 302",  # admins go to operations
    "GET /notifications/": "L 200 200 200 200 200",  # everyone's own mail, nobody else's
    # addresses
    "GET /addresses/": SHOPPERS,
    "GET /addresses/new": SHOPPERS,
    "POST /addresses/new": "L 422 422 422 422 403",
    "GET /addresses/<int:address_id>/edit": OWNER_ONLY,
    "POST /addresses/<int:address_id>/edit": OWNER_REFUSED_INPUT,
    "POST /addresses/<int:address_id>/default": OWNER_ACTS,
    "POST /addresses/<int:address_id>/remove": OWNER_ACTS,
    # wallet
    "GET /wallet/": SHOPPERS,
    "GET /wallet/new": SHOPPERS,
    "POST /wallet/new": "L 422 422 422 422 403",
    "POST /wallet/<int:card_id>/default": OWNER_ACTS,
    "POST /wallet/<int:card_id>/remove": OWNER_ACTS,
    # cart, checkout, orders
    "GET /cart/": SHOPPERS,
    "GET /cart/badge": SHOPPERS,
    "POST /cart/add": "L 303 303 303 303 403",
    "POST /cart/lines/<int:line_id>": OWNER_ACTS,
    "POST /cart/lines/<int:line_id>/remove": OWNER_ACTS,
    "GET /checkout/": SHOPPERS,
    "POST /checkout/": OWNER_ACTS,  # with the owner's address and card: 404 to anyone else
    "GET /orders/": SHOPPERS,
    "GET /orders/<int:order_id>": OWNER_ONLY,
    "GET /orders/<int:order_id>/confirmation": OWNER_ONLY,
    "POST /orders/<int:order_id>/pay": OWNER_REFUSED_INPUT,
    # autoship
    "GET /autoship/": SHOPPERS,
    "GET /autoship/new": SHOPPERS,
    "POST /autoship/new": "L 422 422 422 422 403",
    "GET /autoship/preview": "L 422 422 422 422 403",  # no schedule typed yet
    "GET /autoship/schedule-fields": SHOPPERS,  # the editor's fields for a kind of schedule
    "GET /autoship/item-units": SHOPPERS,  # the unit select for the product chosen in an item form
    "POST /autoship/from-cart": "L 303 422 303 422 403",  # the IBOs' carts are empty
    "POST /autoship/subscribe": OWNER_ACTS,  # into the owner's profile: 404 to anyone else
    "POST /autoship/calendar": "L 303 303 303 303 403",  # everyone's own link
    "GET /autoship/<int:profile_id>": OWNER_ONLY,
    "POST /autoship/<int:profile_id>/items": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/items/<int:item_id>": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/items/<int:item_id>/remove": OWNER_ACTS,
    "POST /autoship/<int:profile_id>/schedule": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/next-date": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/skip": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/unskip": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/pause": OWNER_ACTS,
    "POST /autoship/<int:profile_id>/resume": OWNER_REFUSED_INPUT,  # it is not paused
    "POST /autoship/<int:profile_id>/resume-date": OWNER_REFUSED_INPUT,  # no date, and it is not paused
    "POST /autoship/<int:profile_id>/cancel": OWNER_ACTS,
    "POST /autoship/<int:profile_id>/ship-now": OWNER_ACTS,
    "POST /autoship/<int:profile_id>/rename": OWNER_REFUSED_INPUT,
    "POST /autoship/<int:profile_id>/delivery": OWNER_REFUSED_INPUT,
    # keeping the customer (retention): swap, the reason page and its offers
    "GET /autoship/<int:profile_id>/items/<int:item_id>/swap": OWNER_ONLY,
    "POST /autoship/<int:profile_id>/items/<int:item_id>/swap": OWNER_REFUSED_INPUT,  # no product chosen
    "GET /autoship/<int:profile_id>/cancel": OWNER_ONLY,
    "POST /autoship/<int:profile_id>/cancel/instead": OWNER_REFUSED_INPUT,  # no offer chosen
    # loyalty points
    "GET /points/": SHOPPERS,
    "POST /points/standing-orders/<int:profile_id>": OWNER_ACTS,
    "POST /autoship/next-shipment": OWNER_ACTS,  # into the owner's profile: 404 to anyone else
    "GET /autoship/next-shipment/<key>": OWNER_ONLY,  # the answer to the owner's press
    "POST /autoship/<int:profile_id>/one-time/<int:line_id>/remove": OWNER_ACTS,
    # 1-Click: ordering needs no login, only the browser's identifier; settings need a login
    "POST /1-click/buy": "403 303 403 403 403 403",  # the owner's browser, the owner's person id
    "GET /1-click/placed/<key>": "404 200 404 404 404 404",
    "POST /1-click/placed/<key>/cancel": "404 303 404 404 404 404",
    "GET /1-click/orders/<int:order_id>": "404 200 404 404 404 404",
    "POST /1-click/orders/<int:order_id>/cancel": "404 303 404 404 404 404",
    "POST /1-click/orders/<int:order_id>/lines/<int:line_id>/cancel": "404 303 404 404 404 404",
    "GET /1-click/": SHOPPERS,
    "GET /1-click/settings": SHOPPERS,
    "POST /1-click/settings": "L 303 422 422 422 403",  # the owner's address and card: not a choice for others
    "POST /1-click/from-order/<int:order_id>": OWNER_ACTS,
    "POST /1-click/off-here": "L 303 303 303 303 403",
    "POST /1-click/off-everywhere": "L 303 303 303 303 403",
    "POST /1-click/devices/<int:client_id>/off": OWNER_ACTS,
    # genealogy and team views
    "GET /downline/": "L 403 200 403 200 403",
    "GET /team/": "L 403 302 403 302 302",
    "GET /team/autoships": TEAM_PAGE,
    "GET /team/autoships.csv": "L 403 200 403 200 404",  # an admin must pick an IBO (?as=)
    "GET /team/totals": TEAM_PAGE,
    "GET /team/attention": TEAM_PAGE,
    "GET /team/tree": TEAM_PAGE,
    "GET /team/tree/<member_number>": TEAM_PERSON,
    "GET /team/people/<member_number>": TEAM_PERSON,
    # volume and rank
    "GET /volume": SHOPPERS,  # a member's own PV; an IBO's report card
    "GET /team/volume": TEAM_PAGE,
    "GET /team/volume/export.csv": "L 403 200 403 200 404",  # an admin must pick an IBO (?as=)
    "GET /admin/volume/": ADMIN_PAGE,
    "GET /admin/volume/plan": ADMIN_PAGE,
    "POST /admin/volume/plan": ADMIN_INPUT,  # no plan sent: refused with the reasons
    "POST /admin/volume/recompute": "L 403 403 403 403 400",  # no period sent
    "POST /admin/volume/periods/<period>/recompute": ADMIN_ACTS,
    "GET /admin/volume/periods/<period>/progress": ADMIN_PAGE,
    "POST /admin/volume/periods/<period>/close": ADMIN_ACTS,
    "GET /admin/volume/periods/<period>/advancement": ADMIN_PAGE,
    # operations
    "GET /admin/": ADMIN_PAGE,
    # the staff's member pages (support may use them too: SUPPORT_ALLOWED)
    "GET /admin/members": ADMIN_PAGE,
    "GET /admin/members/<member_number>": ADMIN_PAGE,
    "POST /admin/members/<member_number>/notes": ADMIN_INPUT,  # no note written
    "POST /admin/members/<member_number>/act": ADMIN_ACTS,
    "POST /admin/acting/stop": ADMIN_ACTS,  # not acting: back to the search
    "GET /admin/products": ADMIN_PAGE,
    "GET /admin/products/new": ADMIN_PAGE,
    "POST /admin/products/new": ADMIN_INPUT,
    "POST /admin/products/<int:product_id>/stock": ADMIN_INPUT,
    "POST /admin/products/<int:product_id>/active": ADMIN_ACTS,
    "GET /admin/orders": ADMIN_PAGE,
    "GET /admin/orders/<int:order_id>": ADMIN_PAGE,
    "POST /admin/orders/<int:order_id>/refunds": ADMIN_INPUT,  # no reason given
    "POST /admin/orders/<int:order_id>/refunds/<int:refund_id>/retry": ADMIN_ACTS,
    "GET /admin/outbox": ADMIN_PAGE,
    "GET /admin/autoship/": ADMIN_PAGE,
    "POST /admin/autoship/": ADMIN_INPUT,
    "GET /admin/autoship/runs/<int:run_id>": ADMIN_PAGE,
    "POST /admin/autoship/runs/<int:run_id>/retry": ADMIN_ACTS,
    "GET /admin/autoship/forecast": ADMIN_PAGE,
    "GET /admin/autoship/payments": ADMIN_PAGE,
    "POST /admin/autoship/payments/<int:order_id>/retry": ADMIN_ACTS,
    "GET /admin/autoship/profiles": ADMIN_PAGE,
    "GET /admin/autoship/profiles/<int:profile_id>": ADMIN_PAGE,
    "GET /admin/retention/": ADMIN_PAGE,
    "GET /admin/retention/replacements": ADMIN_PAGE,
    "POST /admin/retention/replacements": ADMIN_INPUT,
    "GET /admin/retention/replacements/<int:replacement_id>": ADMIN_PAGE,
    "GET /admin/fulfilment/": ADMIN_PAGE,
    "POST /admin/fulfilment/plan-now": ADMIN_ACTS,
    "GET /admin/fulfilment/shipments/<int:shipment_id>": ADMIN_PAGE,
    "POST /admin/fulfilment/shipments/<int:shipment_id>/release": ADMIN_ACTS,
    "POST /admin/fulfilment/shipments/<int:shipment_id>/ship": ADMIN_INPUT,  # no carrier given (and not released yet)
    "GET /admin/fulfilment/waiting": ADMIN_PAGE,
    "GET /admin/fulfilment/runs": ADMIN_PAGE,
    "GET /admin/fulfilment/stock": ADMIN_PAGE,
    "GET /admin/fulfilment/inventory": ADMIN_PAGE,
    "POST /admin/fulfilment/inventory/receipts": ADMIN_INPUT,
    "POST /admin/fulfilment/inventory/arrivals": ADMIN_INPUT,
    "POST /admin/fulfilment/inventory/arrivals/lines/<int:line_id>/receive": ADMIN_INPUT,
    "POST /admin/fulfilment/inventory/receipts.csv": ADMIN_INPUT,
    "POST /admin/fulfilment/inventory/arrivals.csv": ADMIN_INPUT,
    "GET /admin/fulfilment/tracking": ADMIN_PAGE,
    "POST /admin/fulfilment/tracking": ADMIN_INPUT,  # no file
    # rq-dashboard (third party, behind portal/admin/dashboard_views.py's guard)
    "GET /admin/rq/": DASHBOARD,
    # instance 0 is the default, so werkzeug sends these to /admin/rq/ (404 to non-admins)
    # before any guard runs; no other instance exists
    "GET /admin/rq/<int:instance_number>/": "308 308 308 308 308 308",
    "GET /admin/rq/<int:instance_number>/view": "308 308 308 308 308 308",
    "GET /admin/rq/<int:instance_number>/view/queues": "308 308 308 308 308 308",
    "GET /admin/rq/<int:instance_number>/view/workers": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/view/jobs": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/view/jobs/<queue_name>/<registry_name>/<int:per_page>/<order>/<int:page>": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/view/job/<job_id>": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/data/queues.json": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/data/workers.json": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/data/jobs/<queue_name>/<registry_name>/<per_page>/<order>/<page>.json": DASHBOARD,
    "GET /admin/rq/<int:instance_number>/data/job/<job_id>.json": DASHBOARD,
    "GET /admin/rq/favicon.ico": DASHBOARD,
    "GET /admin/rq/static/<path:filename>": DASHBOARD,
    "GET /admin/rq/requeue/<queue_name>": DASHBOARD,
    "POST /admin/rq/requeue/<queue_name>": DASHBOARD,
    "POST /admin/rq/job/<job_id>/requeue": DASHBOARD,
    "POST /admin/rq/job/<job_id>/delete": DASHBOARD,
    "POST /admin/rq/queue/<queue_name>/<registry_name>/empty": DASHBOARD,
    "POST /admin/rq/queue/<queue_name>/compact": DASHBOARD,
}


# --- The derived personas: support, and support acting for ``other`` (module docstring) ----------
DERIVED_PERSONAS = ("support", "acting")
EVERYONE = PERSONAS + DERIVED_PERSONAS

SUPPORT_ALLOWED = {
    "GET /admin/members", "GET /admin/members/<member_number>",
    "POST /admin/members/<member_number>/notes", "POST /admin/members/<member_number>/act",
    "POST /admin/acting/stop",
    "GET /admin/orders/<int:order_id>",  # the member page's orders link there
    # support refunds up to SUPPORT_REFUND_LIMIT (tests/orders/test_refund_views.py)
    "POST /admin/orders/<int:order_id>/refunds", "POST /admin/orders/<int:order_id>/refunds/<int:refund_id>/retry",
}
SUPPORT_ROWS: dict[str, str] = {}  # "METHOD /rule": support's cell, where the rule does not fit


def support_cell(cell: str, row: dict[str, str]) -> str:
    if cell in SUPPORT_ROWS:
        return SUPPORT_ROWS[cell]
    if cell in SUPPORT_ALLOWED:
        return row["admin"]
    path = cell.split(" ", 1)[1]
    if path.startswith(("/admin/", "/team/")):
        return row["other"]
    return row["admin"]


def acting_cell(cell: str, row: dict[str, str], endpoint: str) -> str:
    return row["other"] if endpoint in ACTING_ENDPOINTS else support_cell(cell, row)


def with_derived(app, cell: str, row: dict[str, str]) -> dict[str, str]:
    """The written row with the support and acting personas' cells added by the rule."""
    endpoint = rule_for(app, cell).endpoint
    return {**row, "support": support_cell(cell, row), "acting": acting_cell(cell, row, endpoint)}


# --- Bodies: the owner's own request, replayed by everyone ---------------------------------------

def _key() -> str:
    return secrets.token_urlsafe(18)


BODIES = {
    "POST /cart/add": lambda w: {"product_id": w.product.id, "unit": "each", "quantity": 1},
    "POST /cart/lines/<int:line_id>": lambda w: {"unit": "each", "quantity": 3},
    "POST /checkout/": lambda w: {"address_id": w.of(w.owner).address.id,
                                  "card_id": w.of(w.owner).card.id, "idempotency_key": _key()},
    "POST /autoship/subscribe": lambda w: {"product_id": w.product.id, "unit": "each",
                                           "quantity": 1, "profile": w.of(w.owner).profile.id},
    "POST /points/standing-orders/<int:profile_id>": lambda w: {"use_points": "yes"},
    "POST /autoship/next-shipment": lambda w: {"product_id": w.product.id, "unit": "each",
                                               "profile": w.of(w.owner).profile.id,
                                               "idempotency_key": _key()},
    "POST /1-click/buy": lambda w: {"product_id": w.product.id, "unit": "each", "quantity": 1,
                                    "person": w.owner.id, "idempotency_key": _key()},
    "POST /1-click/settings": lambda w: {"address_id": w.of(w.owner).address.id,
                                         "card_id": w.of(w.owner).card.id},
    # confirmed: the confirmation step itself (200, nothing changed) is tested with each action
    "POST /autoship/<int:profile_id>/ship-now": lambda w: {"confirm": "yes"},
    "POST /autoship/calendar": lambda w: {"action": "issue", "confirm": "yes"},
    "POST /1-click/orders/<int:order_id>/cancel": lambda w: {"confirm": "yes"},
    "POST /admin/products/<int:product_id>/active": lambda w: {"confirm": "yes"},
    "POST /admin/volume/periods/<period>/close": lambda w: {"confirm": "yes"},
    # a pause that takes PV out of this month asks first (tests/volume/test_qualification_notes.py)
    "POST /autoship/<int:profile_id>/pause": lambda w: {"confirm": "yes"},
}


# --- The routes ----------------------------------------------------------------------------------

UNTESTED_ENDPOINTS = {"static"}  # our own static files: public by design
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _url_map_rules() -> list[Rule]:
    """The URL map of an app built like the test app (routes do not depend on the backends)."""
    settings = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app({**settings, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://unused@127.0.0.1:1/unused", "REDIS_URL": "redis://unused"})
    return list(app.url_map.iter_rules())


def cells(rules) -> list[str]:
    """'METHOD /rule' for every rule and method of the URL map that the matrix covers."""
    return sorted(f"{method} {rule.rule}" for rule in rules if rule.endpoint not in UNTESTED_ENDPOINTS
                  for method in rule.methods - IGNORED_METHODS)


CELLS = cells(_url_map_rules())


def answer(response) -> str:
    """A response as the table writes it: the status, or L for a redirect to /login."""
    location = response.headers.get("Location", "")
    if response.status_code in (302, 303) and urlsplit(location).path == "/login":
        return "L"
    return str(response.status_code)


def is_refusal(cell: str) -> bool:
    return cell == "L" or int(cell) >= 400


def row_of(expected: str) -> dict[str, str]:
    cells_ = expected.split()
    assert len(cells_) == len(PERSONAS), f"a row has {len(PERSONAS)} cells: {expected!r}"
    return dict(zip(PERSONAS, cells_))


def personas_of(app, world: World) -> dict[str, Persona]:
    tokens = {"owner": world.of(world.owner).client_token, "other": world.of(world.other).client_token}
    personas = {name: Persona(app, name, world.persona(name), tokens.get(name)) for name in PERSONAS}
    personas["support"] = Persona(app, "support", world.support)
    personas["acting"] = acting_for(Persona(app, "acting", world.support), world.other)
    return personas


def rule_for(app, cell: str) -> Rule:
    method, path = cell.split(" ", 1)
    return next(r for r in app.url_map.iter_rules() if r.rule == path and method in r.methods)


STRANGERS = ("anon", "ibo", "other", "upline")  # nobody of these may read the owner's details

# Here a logged-in person's ``L`` is the success: they are logged out and sent to log in.
SIGN_OUTS = {"POST /logout", "POST /account/logout-everywhere"}


def owners_details(world: World) -> list[str]:
    """What only the owner (and admins) may read: street address and card."""
    things = world.of(world.owner)
    return [things.address.line1, f"ending {things.card.last4}"]


def ask_everyone(app, world: World, cell: str, expected: dict[str, str] | None):
    """Send ``cell``'s request as every persona, refused personas first (they must change
    nothing), the owner last (the owner's success may change what others would see). No
    answer to a stranger shows the owner's street or card.
    Returns ({persona: answer}, [problems])."""
    method, _ = cell.split(" ", 1)
    path = url_for_rule(rule_for(app, cell), world)
    body = BODIES.get(cell, lambda w: {})(world)
    personas = personas_of(app, world)
    refused_first = sorted(EVERYONE, key=lambda name: (
        not (expected and is_refusal(expected[name])), name == "owner"))
    unsafe = method not in ("GET", "HEAD", "OPTIONS")
    before = database_snapshot() if unsafe else None
    answers, problems = {}, []
    for name in refused_first:
        response = personas[name].send(method, path, body)
        answers[name] = answer(response)
        # acting for ``other`` on the member's pages: a stranger to the owner there too
        if name in STRANGERS or (name == "acting" and rule_for(app, cell).endpoint in ACTING_ENDPOINTS):
            text = response.get_data(as_text=True)
            shown = [detail for detail in owners_details(world) if detail in text]
            if shown:
                problems.append(f"{name} was shown the owner's {shown}")
        signed_out = cell in SIGN_OUTS and name != "anon"
        if unsafe and is_refusal(answers[name]) and not signed_out:
            changed = changed_tables(before, database_snapshot())
            if changed:
                problems.append(f"{name} was refused ({answers[name]}) but changed {changed}")
        if unsafe:
            before = database_snapshot()
    return answers, problems


@pytest.mark.parametrize("cell", CELLS)
def test_route(app, session, redis, relaxed_rate_limits, cell):
    world = build_world(session, redis)
    written = EXPECTED.get(cell)
    expected = with_derived(app, cell, row_of(written)) if written else None
    answers, problems = ask_everyone(app, world, cell, expected)
    observed = " ".join(answers[name] for name in PERSONAS)
    if expected is None:
        pytest.fail(f"{cell} has no row in EXPECTED (tests/security/test_authorization_matrix.py). "
                    f"It answered {' '.join(PERSONAS)} = {observed!r}: check each cell is right "
                    f"(see the module docstring) and add \"{cell}\": \"...\".")
    wrong = [f"{name} got {answers[name]}, expected {expected[name]}" for name in EVERYONE
             if answers[name] != expected[name]]
    assert not wrong + problems, f"{cell} ({url_for_rule(rule_for(app, cell), world)}): " \
                                 + "; ".join(wrong + problems)


def test_every_row_names_a_route(app):
    """A removed or renamed route must take its row with it."""
    assert sorted(set(EXPECTED) - set(cells(app.url_map.iter_rules()))) == []
    assert sorted(set(BODIES) - set(EXPECTED)) == []


def test_an_anonymous_htmx_request_gets_a_401_where_a_page_would_ask_to_log_in(app, session, redis):
    """htmx follows redirects inside a fragment; a 401 with HX-Redirect takes the whole page to
    the login form instead. Every ``L`` of the anonymous column, asked by htmx."""
    world = build_world(session, redis)
    anonymous = Persona(app, "anon", None)
    before = database_snapshot()
    wrong = []
    for cell in sorted(c for c in CELLS if EXPECTED.get(c, "?").split()[0] == "L"):
        method, _ = cell.split(" ", 1)
        response = anonymous.send(method, url_for_rule(rule_for(app, cell), world), htmx=True)
        if response.status_code != 401 or not response.headers.get("HX-Redirect", "").startswith("/login"):
            wrong.append(f"{cell}: {response.status_code} {response.headers.get('HX-Redirect')}")
    assert wrong == []
    assert changed_tables(before, database_snapshot()) == []


def test_the_owners_details_are_on_the_owners_own_pages(app, session, redis):
    """So that finding none of them on a stranger's answer means something."""
    world = build_world(session, redis)
    owner = personas_of(app, world)["owner"]
    pages = owner.send("GET", "/addresses/").get_data(as_text=True) \
        + owner.send("GET", "/wallet/").get_data(as_text=True)
    assert all(detail in pages for detail in owners_details(world))


def test_a_snapshot_sees_any_change_to_any_row(session, redis):
    world = build_world(session, redis)
    before = database_snapshot()
    world.of(world.owner).cart_line.quantity += 1
    session.commit()
    assert changed_tables(before, database_snapshot()) == ["cart_lines"]


@pytest.mark.parametrize("viewer, scope, expected", [
    ("admin", "upline", 200),   # an admin sees what the upline sees
    ("admin", "ibo", 404),      # ... and only that: the owner is not in the outsider's downline
    ("admin", "owner", 404),    # a member is nobody's scope
    ("ibo", "upline", 404),     # an IBO's ?as= is ignored: always their own downline
    ("upline", "ibo", 200),
])
def test_viewing_the_team_as_another_ibo(app, session, redis, viewer, scope, expected):
    world = build_world(session, redis)
    persona = personas_of(app, world)[viewer]
    number = getattr(world, scope).member_number
    for path in (f"/team/people/{world.owner.member_number}", f"/team/tree/{world.owner.member_number}"):
        assert persona.send("GET", f"{path}?as={number}").status_code == expected, path
    listing = persona.send("GET", f"/team/autoships?as={number}").get_data(as_text=True)
    assert (world.owner.member_number in listing) == (expected == 200)


MIXED = {  # routes naming two things: the body the owner would send, and the refusal
    "POST /autoship/<int:profile_id>/items/<int:item_id>": ({"unit": "each", "quantity": 3}, 404),
    "POST /autoship/<int:profile_id>/items/<int:item_id>/remove": ({}, 404),
    "POST /autoship/<int:profile_id>/items/<int:item_id>/swap": ({"unit": "case"}, 404),
    # a plain form on the 1-Click order page gets every refusal as a message back on that page
    # (a double-clicked "cancel" finds its line gone); htmx gets the 404
    "POST /1-click/orders/<int:order_id>/lines/<int:line_id>/cancel": ({}, 303),
}


@pytest.mark.parametrize("cell", sorted(MIXED))
def test_the_owners_parent_with_somebody_elses_child_changes_nothing(app, session, redis, cell):
    world = build_world(session, redis)
    rule = rule_for(app, cell)
    mine, theirs = (rule_arguments(rule, world, person) for person in (world.owner, world.other))
    owner = personas_of(app, world)["owner"]
    parent = min(rule.arguments, key=rule.rule.index)  # the first in the path
    for child in sorted(rule.arguments - {parent}):
        _domain, path = rule.build({**mine, child: theirs[child]})
        body, refusal = MIXED[cell]
        before = database_snapshot()
        response = owner.send(cell.split()[0], path, body)
        assert (response.status_code, changed_tables(before, database_snapshot())) == (refusal, []), path
        if refusal == 303:
            assert response.headers["Location"] == url_for_rule(rule_for(app, "GET /1-click/orders/<int:order_id>"), world)
            assert owner.send(cell.split()[0], path, body, htmx=True).status_code == 404
