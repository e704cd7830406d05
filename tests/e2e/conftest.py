"""The end-to-end suite: real Chromium, the portal in gunicorn and a real RQ worker, all on the
test session's database and Redis (tests/live.py starts them once per session).

Data is built with the factories in the test's session, which must then be committed and
closed (``hand_over``) before the browser acts: the server sees only committed rows, and a
transaction left open could hold locks its requests wait for. Each main page a test passes through is screenshotted (``shoot``) into
the artefacts directory and checked with axe-core (``assert_accessible``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from tests.factories import PASSWORD, make_address, make_card, make_user
from tests.live import artifacts_dir

def hand_over(session) -> None:
    """Commit what the test built and end the test's transaction: the server's turn. The
    objects keep the attributes they had (detached), so a test can still read ``user.email``."""
    current = session()
    current.expire_on_commit = False
    try:
        session.commit()
    finally:
        current.expire_on_commit = True
    session.close()


def count(model, *where) -> int:
    """Rows of ``model`` now, read without keeping a transaction open."""
    try:
        return db.session.scalar(select(func.count()).select_from(model).where(*where))
    finally:
        db.session.rollback()


def log_in(page, user, password: str = PASSWORD) -> None:
    """Logs ``user`` (a User, or an email address) in through the login form."""
    page.goto("/login")
    page.get_by_label("Email").fill(getattr(user, "email", user))
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/home$|/admin/$|/admin/members$"))  # staff: operations or members


def make_shopper(session, redis, **overrides):
    """A member with a "Home" address and a Visa ending 4242."""
    person = make_user(session, **overrides)
    make_address(session, person, moniker="Home", line1="12 Elm Street", city="Springfield",
                 postal_code="62704")
    make_card(session, person, redis)
    return person


def choose(select, containing: str) -> None:
    """Selects the option of ``select`` whose text contains ``containing``."""
    option = select.locator("option", has_text=containing).first
    select.select_option(value=option.get_attribute("value"))


def said(page, text):
    """The status message (a flash, or an htmx answer's) that contains ``text``."""
    return page.get_by_role("status").filter(has_text=text)


def menu(page, name: str):
    """A link of the site's main navigation, e.g. "Orders" or "Cart" (with its count)."""
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(rf"^{re.escape(name)}\b"))


@pytest.fixture
def shoot(request):
    """Saves a full-page screenshot of ``page`` as <artefacts>/<test>-<step>.png."""
    test = re.sub(r"[\W_]+", "-", request.node.name.removeprefix("test_"))[:48].strip("-")
    taken = 0
    directory = artifacts_dir()
    directory.mkdir(parents=True, exist_ok=True)

    def take(page, step: str) -> Path:
        nonlocal taken
        taken += 1
        path = directory / f"{test}-{taken:02d}-{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        page.screenshot(path=str(path), full_page=True)
        request.config.stash.setdefault(SCREENSHOTS, []).append(path)
        return path

    return take


SCREENSHOTS = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, config):
    shots = config.stash.get(SCREENSHOTS, [])
    if shots:
        terminalreporter.write_line(f"{len(shots)} browser screenshots in {shots[0].parent}")
