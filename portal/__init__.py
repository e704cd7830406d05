"""Standing Order: the back-office portal."""

from __future__ import annotations

import atexit
import gc
import os
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import embedded_postgres
from portal.config import Config, check_base_url, config_from_environment
from portal.db import ping_idle_connections
from portal.extensions import csrf, db, htmx, limiter, login_manager, migrate
from portal.fulfilment.tracking import check_tracking_urls
from portal.ids import IdConverter
from portal.queues import redis_url
from portal.unit_of_work import PortalFlask

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Registered first, so it runs last: once the servers we started are stopped, the interpreter's
# final garbage collections would walk every object of the app to free memory the process is
# about to hand back anyway, which kept a CLI command alive long after its work was done.
atexit.register(gc.freeze)


def create_app(config: type[Config] | dict | None = None) -> Flask:
    app = PortalFlask(
        __name__,
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    _load_config(app, config)
    if int(app.config["TRUSTED_PROXIES"]):  # per-IP rate limits need the client's address
        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine, float(app.config["DB_PING_IDLE_SECONDS"]))
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    app.config["RATELIMIT_STORAGE_URI"] = redis_url(app)  # the same Redis as the queues
    limiter.init_app(app)

    from portal import errors, static_assets, templating
    from portal.accounts.views import bp as accounts_bp
    from portal.addresses.views import bp as addresses_bp
    from portal.autoship.admin_views import bp as autoship_admin_bp
    from portal.autoship.one_time_views import bp as next_shipment_bp
    from portal.autoship.views import bp as autoship_bp
    from portal.admin.views import bp as admin_bp
    from portal.admin.dashboard_views import mount_rq_dashboard
    from portal.cart.views import bp as cart_bp
    from portal.catalog.views import bp as catalog_bp
    from portal.checkout.views import bp as checkout_bp
    from portal.fulfilment.views import bp as fulfilment_bp
    from portal.mail.views import bp as mail_bp
    from portal.genealogy.views import bp as genealogy_bp
    from portal.downline.views import bp as downline_bp
    from portal.home.views import bp as home_bp
    from portal.loyalty.views import bp as loyalty_bp
    from portal.oneclick.views import bp as oneclick_bp
    from portal.orders.views import bp as orders_bp
    from portal.orders.refund_views import bp as refunds_bp
    from portal.payments.views import bp as payments_bp
    from portal.retention.admin_views import bp as retention_admin_bp
    from portal.retention.views import bp as retention_bp
    from portal.support.views import bp as support_bp
    from portal.volume.admin_views import bp as volume_admin_bp
    from portal.volume.team_views import bp as team_volume_bp
    from portal.volume.views import bp as volume_bp
    from portal.autoship.cli import autoship_cli
    from portal.loyalty.cli import points_cli
    from portal.seed.cli import seed_cli
    from portal.volume.cli import volume_cli
    from portal.volume.periods import period_name

    app.url_map.converters["int"] = IdConverter  # before any rule: an id beyond INTEGER is a 404
    for blueprint in (home_bp, accounts_bp, addresses_bp, payments_bp, catalog_bp, cart_bp,
                      checkout_bp, orders_bp, autoship_bp, autoship_admin_bp, oneclick_bp, genealogy_bp,
                      admin_bp, refunds_bp, fulfilment_bp, downline_bp, next_shipment_bp, retention_bp,
                      retention_admin_bp, volume_bp, team_volume_bp, volume_admin_bp, loyalty_bp, support_bp,
                      mail_bp):
        app.register_blueprint(blueprint)
    mount_rq_dashboard(app)
    connect_signals()
    errors.register(app)
    templating.register(app)
    static_assets.register(app)
    app.cli.add_command(seed_cli)
    app.cli.add_command(autoship_cli)
    app.cli.add_command(volume_cli)
    app.add_template_filter(period_name, "period")   # "December 2026"
    app.cli.add_command(points_cli)
    return app


def connect_signals() -> None:
    """Each concept that reacts to another's announcements (blinker signals) connects its
    receivers here, once the app is built, whatever was imported first."""
    from portal.autoship import reactions as autoship_reactions
    from portal.fulfilment import reactions as fulfilment_reactions
    from portal.loyalty import reactions as loyalty_reactions
    from portal.volume import reactions as volume_reactions

    autoship_reactions.connect_signals()
    fulfilment_reactions.connect_signals()
    volume_reactions.connect_signals()
    loyalty_reactions.connect_signals()


def _load_config(app: Flask, config: type[Config] | dict | None) -> None:
    overrides: dict = {}
    if isinstance(config, dict):
        overrides, config = config, None
    app.config.from_object(config or config_from_environment())
    app.config.from_prefixed_env("PORTAL")
    for name in ("SECRET_KEY", "REDIS_URL"):
        if os.environ.get(name):
            app.config[name] = os.environ[name]
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.config.update(overrides)

    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY must be set outside development and tests")
    check_base_url(app.config.get("BASE_URL"))
    check_tracking_urls(app.config.get("TRACKING_URLS"))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        # The embedded PostgreSQL: the one another process announced, or one we start now.
        app.config["SQLALCHEMY_DATABASE_URI"] = embedded_postgres.shared_url(
            Path(app.instance_path) / "postgres")
