"""The architecture, as a test: imports run one way.

Read this table first when you join. Inside each concept package (``portal/<concept>/``) a module
is one of three kinds:

- **web**: ``views`` (and any ``*_views``), ``cli``, ``forms``: the blueprints, their forms and
  commands.
  The top: they may import anything in ``portal``.
- **domain**: every other module (services, queries, rules, the engine, the planner, ...): the
  concept's behaviour, taking a session and returning values.
- **model**: ``models``, ``states`` and ``rules``: tables, the names of their states, and the rule
  book (prices, totals: Python and the SQL expressions beside them) the tables' columns use.

and the imports between them run one way: web -> domain -> model -> ``portal.db``.

Between concepts, domain modules follow the order of ``CONCEPTS`` below (lowest first): a concept's
domain modules may use the domain modules of the concepts below it, never of those above. A lower
concept that must let a higher one react (a product going off sale, a payment's outcome) announces
it with a blinker signal (``<concept>/signals.py``) and the higher concept subscribes. Models may
import every concept's models (foreign keys run every way).

Shared infrastructure (``portal.db``, ``portal.clock``, ``portal.queues``, ``portal.templating``, ...)
sits below every concept and may import concepts' models only. ``portal`` (create_app),
``portal.devstack``, ``portal.seed`` and the ``jobs`` package sit above everything; nothing in
``portal`` imports ``jobs``.

Domain and model modules never touch the request: no ``flask.request``, ``flash``, ``url_for``,
``render_template``, ``session``, and no ``flask_login.current_user`` (the actor comes in as an
argument).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

from portal import PROJECT_ROOT

CONCEPTS = (                                  # lowest first
    ("mail", "genealogy"),                    # an outbox and the sponsor tree, over accounts' models
    ("accounts",),                            # people, logins; places a newcomer in the tree, mails resets
    ("catalog", "addresses", "payments"),     # products and stock, ship-to addresses, cards and gateway
    ("orders",),                              # placed orders, their charging and the rule book of prices
    ("cart", "fulfilment", "loyalty"),        # what a shopper collects; stock arriving, shipments
                                              # planned; points earned on standing orders
    ("autoship", "oneclick", "checkout"),     # the ways an order is placed
    ("retention", "volume"),                  # keeping the customer; periods, PV/GV, legs and ranks
    ("downline", "admin", "home", "support"),  # read models over all of the above; support: the staff's member pages
)
LEVEL = {name: level for level, names in enumerate(CONCEPTS) for name in names}
WEB_MODULES = {"views", "cli", "forms",   # and every module named *_views
               "rate_limits"}      # the login limits are keyed on the request
MODEL_MODULES = {"models", "states",
                 "rules"}          # a rule book: pure prices and totals, the expressions beside them
TOP = {"portal", "portal.devstack", "portal.seed", "jobs"}
REQUEST_NAMES = {("flask", "request"), ("flask", "flash"), ("flask", "url_for"), ("flask", "session"),
                 ("flask", "render_template"), ("flask", "redirect"), ("flask_login", "current_user"),
                 ("flask_login", "login_user"), ("flask_login", "logout_user")}


def place(module: str) -> tuple[str, str | None]:
    """(kind, concept) of a module: kind is top, web, domain, model or infrastructure."""
    parts = module.split(".")
    if module in TOP or parts[0] == "jobs" or module.startswith("portal.seed."):
        return "top", None
    if len(parts) >= 2 and parts[1] in LEVEL:
        if len(parts) == 2:
            return "top", parts[1]  # the package's __init__: its blueprint registration
        tail = parts[-1]
        kind = "web" if tail in WEB_MODULES or tail.endswith("_views") else \
            "model" if tail in MODEL_MODULES else "domain"
        return kind, parts[1]
    return "infrastructure", None


def refusal(importer: str, imported: str) -> str | None:
    """Why ``importer`` may not import ``imported``, or None when the import runs the right way."""
    kind, concept = place(importer)
    other_kind, other_concept = place(imported)
    if kind in ("top", "web"):
        return "nothing in portal imports the jobs package" if other_kind == "top" and \
            imported.startswith("jobs") and importer.startswith("portal") else None
    if other_kind == "top":
        return f"a {kind} module imports {imported}, which sits above everything"
    if other_kind == "web":
        return f"a {kind} module imports a {other_kind} module"
    if kind == "infrastructure":
        return None if other_kind in ("infrastructure", "model") else \
            "shared infrastructure imports a concept's behaviour"
    if kind == "model":
        return None if other_kind in ("infrastructure", "model") else "a model imports behaviour"
    # a domain module
    if other_kind != "domain" or other_concept == concept:
        return None
    if LEVEL[other_concept] >= LEVEL[concept]:
        return (f"{concept} (level {LEVEL[concept]}) uses {other_concept} (level {LEVEL[other_concept]}), "
                "which is not below it: announce with a signal instead")
    return None


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("portal", "jobs", cache_dir=None)


def upward_imports(graph) -> list[str]:
    found = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            reason = refusal(importer, imported)
            if reason:
                lines = graph.get_import_details(importer=importer, imported=imported)
                where = ", ".join(f"line {d['line_number']}" for d in lines)
                found.append(f"{importer} -> {imported} ({where}): {reason}")
    return found


def test_imports_run_one_way(graph):
    assert upward_imports(graph) == []


def test_every_concept_package_is_placed_in_the_table():
    packages = {p.name for p in (PROJECT_ROOT / "portal").iterdir()
                if (p / "__init__.py").exists() and p.name != "seed"}
    assert packages == set(LEVEL)


def test_domain_and_model_modules_never_touch_the_request(graph):
    touching = []
    for module in sorted(graph.modules):
        if place(module)[0] not in ("domain", "model"):
            continue
        tree = ast.parse(Path(source_path(module)).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if (node.module, alias.name) in REQUEST_NAMES:
                        touching.append(f"{module}: from {node.module} import {alias.name}")
    assert touching == []


def source_path(module: str) -> Path:
    path = PROJECT_ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@pytest.mark.parametrize("importer, imported, refused", [
    ("portal.catalog.services", "portal.autoship.volume", True),        # a lower concept reaching up
    ("portal.orders.charging", "portal.fulfilment.coordination", True),
    ("portal.autoship.engine", "portal.orders.rules", False),           # a higher concept using a lower one
    ("portal.orders.models", "portal.autoship.models", False),          # models meet through foreign keys
    ("portal.orders.models", "portal.orders.billing", True),            # a model using behaviour
    ("portal.orders.models", "portal.orders.rules", False),             # a model using its rule book
    ("portal.cart.queries", "portal.cart.views", True),                 # behaviour using the web
    ("portal.templating", "portal.cart.queries", True),                 # infrastructure using a concept
    ("portal.catalog.views", "portal.autoship.forms", False),           # the web composes concepts
    ("portal.queues", "jobs.mail", True),
])
def test_the_rule_refuses_a_planted_upward_import(importer, imported, refused):
    assert (refusal(importer, imported) is not None) is refused
