"""One unit of work per request, job and CLI command (portal/unit_of_work.py): committed once at
the edge when it succeeds, rolled back when it fails, and nothing of a failure kept: no rows, no
"Saved" flash, no login."""

from __future__ import annotations

import html

import pytest
from flask import flash, redirect, request
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import jobs.autoship
from portal.accounts.models import User
from portal.accounts.views import start_session
from portal.addresses import services as address_services
from portal.addresses.models import Address
from portal.errors import DomainError, NotFound
from portal.extensions import db
from tests.accounts.web import error_beside
from tests.addresses.test_views import address_form
from tests.conftest import csrf_token, log_in
from tests.factories import make_address, make_user


def addresses_in_the_database() -> int:
    """Counted on a connection of its own: what is committed, whatever the test's session holds."""
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Address))


class Commits:
    """The commits made from now on: by the requests' sessions, and by the test's own (which a
    job or a CLI command run here shares)."""

    def __init__(self, mine: Session):
        self.mine, self.by_requests, self.by_the_test = mine, 0, 0

    def __call__(self, committed: Session) -> None:
        if committed.in_nested_transaction():
            return  # a savepoint released, which SQLAlchemy reports as a commit too
        if committed is self.mine:
            self.by_the_test += 1
        else:
            self.by_requests += 1

    def clear(self) -> None:
        self.by_requests = self.by_the_test = 0


@pytest.fixture
def commits(session):
    counter = Commits(session())
    event.listen(Session, "after_commit", counter)
    yield counter
    event.remove(Session, "after_commit", counter)


@pytest.fixture
def person(session):
    user = make_user(session)
    session.commit()
    return user


@pytest.fixture
def home_view(app, monkeypatch):
    """Put ``view`` in place of the home page's view, with 500s rendered as in production."""
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)

    def replace(view):
        monkeypatch.setitem(app.view_functions, "home.index", view)

    return replace


def write_an_address(user_id: int) -> None:
    make_address(db.session, db.session.get(User, user_id), moniker="Written by the view")


def test_a_successful_post_commits_once_and_its_flash_is_shown(client, session, person, commits):
    log_in(client, person)
    token = csrf_token(client, "/addresses/new")
    commits.clear()

    response = client.post("/addresses/new", data={**address_form(), "csrf_token": token})

    assert response.status_code == 303
    assert commits.by_requests == 1
    assert addresses_in_the_database() == 1
    assert 'Address "Home" saved.' in html.unescape(client.get("/addresses/").get_data(as_text=True))


def test_a_view_that_fails_after_writing_leaves_nothing_written(client, person, home_view):
    def broken():
        write_an_address(person.id)
        db.session.flush()
        raise RuntimeError("a bug after the write")
    home_view(broken)

    response = client.get("/")

    assert response.status_code == 500
    assert "We could not finish that request." in response.get_data(as_text=True)
    assert addresses_in_the_database() == 0


@pytest.mark.parametrize("refusal, status", [
    (DomainError("We do not deliver to that island."), 422),
    (NotFound("No such standing order."), 404),
])
def test_a_refusal_becomes_its_status_and_message_and_nothing_is_written(
        client, person, home_view, commits, refusal, status):
    def refused():
        write_an_address(person.id)
        db.session.flush()
        raise refusal
    home_view(refused)

    response = client.get("/")

    assert response.status_code == status
    assert refusal.message in response.get_data(as_text=True)
    assert addresses_in_the_database() == 0
    assert commits.by_requests == 0


def test_a_refusal_shown_beside_the_field_keeps_nothing_of_what_was_written(
        client, person, monkeypatch):
    real_add_address = address_services.add_address

    def add_then_refuse(session, **fields):
        real_add_address(session, **fields)
        raise DomainError("We do not deliver to that postal code.", field="postal_code")
    monkeypatch.setattr(address_services, "add_address", add_then_refuse)
    log_in(client, person)
    token = csrf_token(client, "/addresses/new")

    response = client.post("/addresses/new", data={**address_form(), "csrf_token": token})

    assert response.status_code == 422
    assert error_beside(response, "postal_code") == "We do not deliver to that postal code."
    assert addresses_in_the_database() == 0


def test_a_commit_that_loses_a_race_is_a_409_and_takes_back_the_flash_and_the_login(
        client, session, person, home_view):
    other = make_user(session)
    session.commit()

    def saves_but_collides():
        write_an_address(person.id)
        start_session(db.session.get(User, person.id))
        flash("Saved.", "success")
        # As if a concurrent request had taken this email first: the commit fails.
        db.session.add(User(email=other.email, first_name="Twin", last_name="Example",
                            member_number="39999999", password_hash="x", role="member"))
        return redirect("/addresses/", 303)
    home_view(saves_but_collides)

    response = client.get("/")

    assert response.status_code == 409
    assert "Somebody changed this at the same moment, so nothing was saved." in \
        response.get_data(as_text=True)
    assert addresses_in_the_database() == 0
    assert client.get("/addresses/").status_code == 302  # not logged in
    login_page = client.get("/login").get_data(as_text=True)
    assert "Saved." not in login_page


def test_the_same_view_without_the_collision_keeps_its_flash_and_login(client, person, home_view):
    def saves():
        write_an_address(person.id)
        start_session(db.session.get(User, person.id))
        flash("Saved.", "success")
        return redirect("/addresses/", 303)
    home_view(saves)

    assert client.get("/").status_code == 303
    page = client.get("/addresses/").get_data(as_text=True)
    assert "Saved." in page and "Written by the view" in page


def test_a_job_commits_once_when_it_returns(session, person, commits, monkeypatch):
    def refresh(session_, product_ids):
        write_an_address(person.id)
        return 1
    monkeypatch.setattr(jobs.autoship.volume, "refresh_cycle_pv", refresh)
    commits.clear()

    assert jobs.autoship.refresh_product_cycle_pv(7) == 1

    assert commits.by_the_test == 1  # run here, the job uses the test's session
    assert addresses_in_the_database() == 1


def test_a_job_that_raises_leaves_nothing_written(session, person, monkeypatch):
    def fails_after_writing(session_, **kwargs):
        write_an_address(person.id)
        db.session.flush()
        raise RuntimeError("the mail server fell over")
    monkeypatch.setattr(jobs.autoship, "send_reminders", fails_after_writing)

    with pytest.raises(RuntimeError, match="fell over"):
        jobs.autoship.reminders()

    assert addresses_in_the_database() == 0


def test_a_job_run_by_another_job_joins_its_unit_of_work(session, person, monkeypatch):
    """The cron tick runs start, reminders and the payment retries: one unit, decided by the tick."""
    monkeypatch.setattr(jobs.autoship.runs, "run_for_today_is_due", lambda *a: None)
    monkeypatch.setattr(jobs.autoship, "retry_payments", lambda: 0)

    def writes(session_, **kwargs):
        write_an_address(person.id)
        return 1
    monkeypatch.setattr(jobs.autoship, "send_reminders", writes)
    real_reminders = jobs.autoship.reminders

    def reminders_then_fail():
        real_reminders()
        raise RuntimeError("a later step fails")
    monkeypatch.setattr(jobs.autoship, "reminders", reminders_then_fail)

    with pytest.raises(RuntimeError, match="later step"):
        jobs.autoship.tick()

    assert addresses_in_the_database() == 0


def test_a_cli_command_commits(app, session):
    result = app.test_cli_runner().invoke(args=["seed", "demo", "--if-empty"])

    assert result.exit_code == 0, result.output
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(User)) > 0


def test_a_cli_command_that_fails_leaves_nothing_written(app, session, person, monkeypatch):
    import portal.autoship.volume

    def fails_after_writing(session_):
        write_an_address(person.id)
        db.session.flush()
        raise RuntimeError("interrupted")
    monkeypatch.setattr(portal.autoship.volume, "repair_cycle_pv", fails_after_writing)

    result = app.test_cli_runner().invoke(args=["autoship", "repair-cycle-pv"])

    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert addresses_in_the_database() == 0


def test_a_collision_answered_to_htmx_goes_to_the_page_error_region(htmx, session, person,
                                                                    home_view):
    other = make_user(session)
    session.commit()

    def collides():
        write_an_address(person.id)
        db.session.add(User(email=other.email, first_name="Twin", last_name="Example",
                            member_number="39999998", password_hash="x", role="member"))
        return "<p>Saved.</p>"
    home_view(collides)

    response = htmx.get("/")

    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#htmx-error"
    assert "nothing was saved" in response.get_data(as_text=True)
    assert addresses_in_the_database() == 0


def test_an_error_page_renders_after_a_broken_transaction(client, session, person, app,
                                                          monkeypatch):
    """A refusal raised outside any view (a before-request hook) after a statement failed: the
    error page rolls back first, so the page (which loads the person) renders its message."""
    def hook():
        if request.path != "/orders/":
            return
        try:
            db.session.execute(text("SELECT 1 / 0"))
        except DBAPIError:
            pass  # the transaction is now unusable until rolled back
        raise DomainError("Refused before the view.")
    log_in(client, person)
    monkeypatch.setitem(app.before_request_funcs, None, [*app.before_request_funcs[None], hook])

    response = client.get("/orders/")

    assert response.status_code == 422
    assert "Refused before the view." in response.get_data(as_text=True)
