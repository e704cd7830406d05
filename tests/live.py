"""Real processes for the browser tests: the portal in gunicorn, an RQ worker and Chromium.

A pytest plugin (loaded by tests/conftest.py). The server and the worker run against the test
session's database and Redis, each in its own process group, started once per session when a
test first asks for them and stopped (group and all) at the end; the per-test wipe of
tests/conftest.py empties the tables and Redis they use, so every test starts from nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from portal import PROJECT_ROOT
from tests.conftest import worker_env

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CHROMIUM_MISSING = "Chromium not installed: apt-get install chromium to run the browser tests"
# Limits a browser test may reach by design (several presses a minute from one browser).
SERVER_SETTINGS = {"PORTAL_ONECLICK_MAX_PER_HOUR": "1000"}


def browser_required() -> bool:
    """CI sets this: a missing Chromium then fails the browser tests instead of skipping them."""
    return (os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")
            or os.environ.get("CI", "").lower() in ("1", "true", "yes"))


def chromium_path() -> str | None:
    found = shutil.which(CHROMIUM)
    return found if found and os.access(found, os.X_OK) else None


def skip_or_fail(reason: str) -> None:
    if browser_required():
        pytest.fail(f"{reason} (REQUIRE_BROWSER/CI is set: the browser tests may not be skipped)",
                    pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the whole process group (gunicorn's workers, RQ's work horses), wait for the
    leader, then SIGKILL whatever of the group is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _log_tail(log) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


@contextmanager
def running(command: list[str], env: dict, name: str, ready) -> Iterator[subprocess.Popen]:
    """Run ``command`` in a new process group until the block ends; ``ready()`` says it is up."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not ready():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start:\n{_log_tail(log)}")
                time.sleep(0.1)
            yield process
            if process.poll() is not None:
                raise RuntimeError(f"{name} died during the tests:\n{_log_tail(log)}")
        finally:
            stop_group(process)


@contextmanager
def portal_server(app, workers: int = 3, threads: int = 4, **settings: str) -> Iterator[str]:
    """The portal in a real gunicorn process on a free loopback port; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    # A short graceful timeout: at the end of the session nothing is in flight worth waiting for.
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads",
               str(threads), "--graceful-timeout", "2", "--bind", f"127.0.0.1:{port}",
               "--log-level", "warning", "wsgi:app"]
    with running(command, worker_env(app, **settings), "gunicorn", answers):
        yield url


@contextmanager
def rq_worker(app, **settings: str) -> Iterator[subprocess.Popen]:
    """One real RQ worker (``python -m jobs.worker``, every queue, with its scheduler)."""
    from rq import Worker

    from portal.queues import get_redis

    before = {worker.name for worker in Worker.all(connection=get_redis(app))}

    def registered() -> bool:
        return any(worker.name not in before for worker in Worker.all(connection=get_redis(app)))

    with running([sys.executable, "-m", "jobs.worker"], worker_env(app, **settings),
                 "the RQ worker", registered) as process:
        yield process


# Module-scoped, not session-scoped: a worker left running would take the jobs of every later
# test, changing their databases and Redis behind their backs. (Not package-scoped either: a
# package-scoped fixture from a plugin module such as this one lives as long as the session.)
@pytest.fixture(scope="module")
def live_server(app) -> Iterator[str]:
    """The base URL of the portal served by gunicorn for the tests of one module."""
    with portal_server(app, **SERVER_SETTINGS) as url:
        yield url


@pytest.fixture(scope="module")
def live_worker(app) -> Iterator[subprocess.Popen]:
    """A real RQ worker process for the tests of one module (it outlives the per-test Redis
    wipe: it only blocks on the queue keys)."""
    with rq_worker(app) as process:
        yield process


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session (Debian's package; never a downloaded one)."""
    path = chromium_path()
    if path is None:
        skip_or_fail(CHROMIUM_MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is not installed: make install")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(chromium, live_server):
    """Makes browser contexts (own cookies, own pages) on the live server; closes them after."""
    made = []

    def make(**options):
        context = chromium.new_context(base_url=live_server, **options)
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


def artifacts_dir() -> Path:
    """Where screenshots go: $E2E_ARTIFACTS, else test-artifacts/e2e at the project root."""
    path = Path(os.environ.get("E2E_ARTIFACTS") or PROJECT_ROOT / "test-artifacts" / "e2e")
    path.mkdir(parents=True, exist_ok=True)
    return path


class HttpBrowser:
    """One browser against a live server: its own cookies, kept from answer to answer."""

    def __init__(self, base: str, cookies: dict[str, str] | None = None, timeout: float = 60):
        self.host = urlsplit(base).netloc
        self.cookies = dict(cookies or {})
        self.timeout = timeout

    def request(self, method: str, path: str, form: dict | None = None, htmx: bool = False):
        """(status, headers, page text) of one request with this browser's cookies."""
        connection = http.client.HTTPConnection(self.host, timeout=self.timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if htmx:
            headers["HX-Request"] = "true"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        page = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        connection.close()
        return response.status, response.headers, page
