"""Links in mail a job writes (no request to take a host from) start with BASE_URL, which
``make run`` sets to the port it serves."""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select

from jobs.autoship import reminders
from portal.mail.models import OutboxMessage
from tests.autoship.conftest import new_profile


def test_a_reminder_written_by_the_job_links_to_base_url(app, session, member, product, clock, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "http://127.0.0.1:5091")
    profile = new_profile(session, member, product, first=date(2026, 12, 4))
    session.commit()
    clock(datetime(2026, 12, 1, 15, tzinfo=timezone.utc))

    with app.app_context():
        assert reminders() == 1

    body = session.scalar(select(OutboxMessage.body))
    assert f"http://127.0.0.1:5091/autoship/{profile.id}\n" in body
