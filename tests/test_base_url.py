"""BASE_URL, where links in mail point: required in production, and in ``make run`` the port
the portal is served on."""

from __future__ import annotations

import pytest

from portal import create_app
from portal.devstack import child_environment
from portal.links import site_url


def app_from_environment(monkeypatch, redis_url, environment: dict[str, str]):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": redis_url})


PRODUCTION = {"PORTAL_ENV": "production", "SECRET_KEY": "a production secret for this test"}


@pytest.mark.parametrize("base_url", ["", "portal.example.com", "ftp://portal.example.com"])
def test_production_refuses_to_start_without_a_usable_base_url(monkeypatch, redis_url, base_url):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    environment = {**PRODUCTION, **({"PORTAL_BASE_URL": base_url} if base_url else {})}

    with pytest.raises(RuntimeError, match="BASE_URL must be set .* PORTAL_BASE_URL=https://"):
        app_from_environment(monkeypatch, redis_url, environment)


def test_production_links_mail_to_its_base_url(monkeypatch, redis_url):
    app = app_from_environment(monkeypatch, redis_url,
                               {**PRODUCTION, "PORTAL_BASE_URL": "https://portal.example.com/"})

    with app.app_context():
        assert site_url() == "https://portal.example.com"
    with app.test_request_context("/", base_url="http://attacker.example"):
        assert site_url() == "https://portal.example.com"


def test_make_run_on_another_port_links_job_mail_to_that_port(monkeypatch, redis_url):
    monkeypatch.delenv("PORTAL_BASE_URL", raising=False)
    monkeypatch.delenv("PORTAL_ENV", raising=False)
    environment = child_environment({"PORT": "5091"}, 5091)

    app = app_from_environment(monkeypatch, redis_url, environment)

    with app.app_context():  # a worker's job: no request
        assert site_url() == "http://127.0.0.1:5091"
    with app.test_request_context("/", base_url="http://127.0.0.1:5091"):
        assert site_url() == "http://127.0.0.1:5091"


def test_make_run_keeps_a_base_url_that_was_chosen():
    environment = child_environment({"PORTAL_BASE_URL": "http://portal.lan:8080"}, 5091)

    assert environment["PORTAL_BASE_URL"] == "http://portal.lan:8080"
