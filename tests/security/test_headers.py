"""Headers every answer carries: no caching of anything that may hold personal data (one
after-request hook, portal/templating.py), and Strict-Transport-Security in production."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.config import Config, DevelopmentConfig, TestConfig
from tests.security.personas import Persona
from tests.security.routes import url_for_rule

PERSONAL_PAGES = {  # pages showing somebody's address, card, orders or sessions, to their owner
    "order": lambda w: f"/orders/{w.of(w.owner).order.id}",
    "addresses": lambda w: "/addresses/",
    "wallet": lambda w: "/wallet/",
    "standing order": lambda w: f"/autoship/{w.of(w.owner).profile.id}",
    "checkout": lambda w: "/checkout/",
    "1-Click order": lambda w: f"/1-click/orders/{w.of(w.owner).oneclick_order.id}",
    "account": lambda w: "/account/password",
}
# Views that choose their own Cache-Control: a calendar app polls the feed (private: no shared
# cache keeps it); files keep the caching Flask gives them.
OWN_CACHING = {"autoship.calendar_feed": "private, max-age=300"}


def owner_of(app, world) -> Persona:
    return Persona(app, "owner", world.owner, world.of(world.owner).client_token)


@pytest.mark.parametrize("page", sorted(PERSONAL_PAGES))
def test_a_page_with_personal_data_is_never_stored(app, world, page):
    response = owner_of(app, world).send("GET", PERSONAL_PAGES[page](world))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_a_1click_order_opened_by_its_browser_alone_is_never_stored(app, world):
    """No login here: the browser's 1-Click cookie opens the order."""
    browser = Persona(app, "anon", None, world.of(world.owner).client_token)

    response = browser.send("GET", f"/1-click/orders/{world.of(world.owner).oneclick_order.id}")

    order = world.of(world.owner).oneclick_order
    assert response.status_code == 200 and f"1-Click order {order.number}" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("persona", ["anon", "owner", "admin"])
def test_every_answer_but_a_file_is_never_stored(app, world, persona):
    """Every GET route of the URL map, refusals and redirects included: the rule is "not a
    file", not a list of pages a new one could be missing from."""
    browser = Persona(app, persona, world.persona(persona))
    wrong = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.endpoint.endswith(".static") \
                or rule.endpoint.endswith("favicon"):
            continue
        response = browser.send("GET", url_for_rule(rule, world))
        expected = OWN_CACHING.get(rule.endpoint, "no-store")
        if response.headers.get("Cache-Control") != expected:
            wrong.append(f"{rule.rule}: {response.status_code} {response.headers.get('Cache-Control')}")
    assert wrong == []


def test_a_static_file_keeps_its_own_caching(client):
    response = client.get("/static/css/portal.css")

    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


# --- Strict-Transport-Security ----------------------------------------------------------------

def production_app(monkeypatch, redis_url: str, **environment: str):
    """An app built as production builds it, from the environment (PORTAL_ENV=production),
    on the suite's Redis (the rate limiter, an extension shared by every app, is bound to the
    last app built)."""
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a production secret for this test")
    monkeypatch.setenv("PORTAL_BASE_URL", "https://portal.example.com")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": redis_url})


def test_production_tells_browsers_to_use_https_only(monkeypatch, redis_url):
    response = production_app(monkeypatch, redis_url).test_client().get("/healthz", base_url="https://localhost")

    assert response.headers["Strict-Transport-Security"] == f"max-age={Config.HSTS_SECONDS}"
    assert Config.HSTS_SECONDS >= 365 * 24 * 60 * 60  # at least a year


@pytest.mark.parametrize("seconds, header", [("600", "max-age=600"), ("0", None)])
def test_hsts_is_set_from_the_environment(monkeypatch, redis_url, seconds, header):
    app = production_app(monkeypatch, redis_url, PORTAL_HSTS_SECONDS=seconds)

    response = app.test_client().get("/login", base_url="https://localhost")

    assert response.headers.get("Strict-Transport-Security") == header


def test_development_and_tests_on_plain_http_send_no_hsts(client):
    assert DevelopmentConfig.HSTS_SECONDS == 0 and TestConfig.HSTS_SECONDS == 0
    assert "Strict-Transport-Security" not in client.get("/login").headers
