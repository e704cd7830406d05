"""The schedule editor speaks in words: it opens on the kind and values of the current rule,
shows only that kind's fields (re-rendered without JavaScript, swapped in with htmx), offers the
RRULE text only under "Custom", and every list names a schedule in words, never as an RRULE."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal.autoship import schedule_kinds as kinds
from portal.autoship.forms import ScheduleFields, schedule_fields_for
from portal.autoship.models import AutoshipEvent, AutoshipProfile
from portal.autoship.recurrence import Recurrence
from tests.autoship.conftest import TODAY, new_profile
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_admin

# Every kind the editor offers, each with a rule it makes: reopening must give the same rule.
OFFERED = [
    (kinds.EVERY_DAYS, Recurrence.every(10, "days")),
    (kinds.EVERY_WEEKS, Recurrence.every(3, "weeks")),
    (kinds.EVERY_WEEKS, Recurrence.weekly("MO", "TH", interval=3)),
    (kinds.EVERY_WEEKS, Recurrence.weekly("MO", "TU", "WE", "TH", "FR")),
    (kinds.EVERY_MONTHS, Recurrence.every(2, "months")),
    (kinds.MONTHLY_DAY, Recurrence.monthly(7)),
    (kinds.MONTHLY_DAY, Recurrence.monthly(28, interval=3)),
    (kinds.MONTHLY_DAY, Recurrence.monthly(29)),
    (kinds.MONTHLY_DAY, Recurrence.monthly(30)),
    (kinds.MONTHLY_DAY, Recurrence.monthly(31)),
    (kinds.MONTHLY_WEEKDAY, Recurrence.monthly_weekday(2, "TU")),
    (kinds.MONTHLY_WEEKDAY, Recurrence.monthly_weekday("last", "FR", interval=2)),
    (kinds.MONTHLY_WORKDAY, Recurrence.parse("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1")),
    (kinds.MONTHLY_WORKDAY, Recurrence.parse("FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1")),
]
# Rules no kind makes exactly: reopened in a friendlier kind, the next save would change them.
CUSTOM = [
    "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=1,15",
    "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=-1",
    "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=31",               # skips the months without a 31st
    "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=28;BYSETPOS=-1",
    "FREQ=MONTHLY;INTERVAL=1;BYDAY=5TU",
    "FREQ=MONTHLY;INTERVAL=1;BYDAY=2TU,4TU",
    "FREQ=MONTHLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
    "FREQ=MONTHLY;INTERVAL=1;BYDAY=SA,SU;BYSETPOS=1",
    "FREQ=DAILY;INTERVAL=1;BYDAY=MO,WE,FR",
    "FREQ=WEEKLY;INTERVAL=1;COUNT=5",
    "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=15;UNTIL=20271231",
]


# --------------------------------------------------------------------- kinds, as values


@pytest.mark.parametrize(("kind", "rule"), OFFERED, ids=str)
def test_each_offered_kind_reads_back_as_itself_and_makes_the_same_rule(kind, rule):
    choice = kinds.choice_for(rule)
    assert choice.kind == kind
    assert choice.rule() == rule


@pytest.mark.parametrize("text", CUSTOM)
def test_a_rule_no_kind_makes_exactly_is_custom_with_its_own_text(text):
    choice = kinds.choice_for(Recurrence.parse(text))
    assert (choice.kind, choice.rrule) == (kinds.CUSTOM, text)
    assert choice.rule() == Recurrence.parse(text)


def test_the_editor_values_of_the_reported_rules():
    assert kinds.choice_for(Recurrence.parse("FREQ=MONTHLY;BYMONTHDAY=7")) == kinds.ScheduleChoice(
        kinds.MONTHLY_DAY, interval=1, day=7)
    assert kinds.choice_for(Recurrence.parse("FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1")) == \
        kinds.ScheduleChoice(kinds.MONTHLY_DAY, interval=1, day=31)
    assert kinds.choice_for(Recurrence.parse("FREQ=WEEKLY;INTERVAL=3;BYDAY=TH,MO")) == kinds.ScheduleChoice(
        kinds.EVERY_WEEKS, interval=3, weekdays=("MO", "TH"))


# --------------------------------------------------------------------- the form


def form_data(values: dict) -> MultiDict:
    """What a browser sends for the editor's values: one pair per ticked weekday."""
    pairs = [(name, str(value)) for name, value in values.items() if name != "weekdays"]
    return MultiDict(pairs + [("weekdays", day) for day in values.get("weekdays", ())])


@pytest.mark.parametrize("rule", [rule for _, rule in OFFERED] + [Recurrence.parse(t) for t in CUSTOM], ids=str)
def test_the_form_filled_with_a_rule_gives_that_rule_back(app, rule):
    with app.test_request_context():
        values = schedule_fields_for(str(rule))
        form = ScheduleFields(form_data({**values, "regularity": "calendar", "first_date": "2027-01-05"}),
                              meta={"csrf": False})
        assert form.validate(), form.errors
        assert form.rule() == rule


def test_a_stored_rule_that_no_longer_parses_opens_as_custom_with_its_text():
    assert schedule_fields_for("FREQ=YEARLY") == {"kind": kinds.CUSTOM, "rrule": "FREQ=YEARLY"}


# --------------------------------------------------------------------- the pages


class Controls(HTMLParser):
    """The controls of one form of a page (found by the end of its action; None: the form that
    posts to its own page), as a browser would send them: text and hidden inputs, ticked boxes
    and radios, each select's chosen option."""

    def __init__(self, action_ending: str | None):
        super().__init__()
        self.action_ending, self.inside, self.select = action_ending, False, None
        self.values: list[tuple[str, str]] = []
        self.names: set[str] = set()  # every control shown, ticked or not

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action = attrs.get("action")
            self.inside = action is None if self.action_ending is None else (action or "").endswith(self.action_ending)
        if not self.inside:
            return
        if tag == "input" and attrs.get("name"):
            self.names.add(attrs["name"])
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.values.append((attrs["name"], attrs.get("value") or ""))
        elif tag == "select":
            self.select = attrs["name"]
            self.names.add(self.select)
        elif tag == "option" and self.select and "selected" in attrs:
            self.values.append((self.select, attrs.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def controls(page: str, action_ending: str | None) -> Controls:
    reader = Controls(action_ending)
    reader.feed(page)
    assert reader.names, f"no form posting to …{action_ending} on the page"
    return reader


def shown(reader: Controls) -> dict:
    """The editor's fields that are shown, with their values (weekdays: the ticked ones)."""
    values = MultiDict(reader.values)
    fields = {name: values.get(name) for name in ("kind", "interval", "day", "nth", "weekday", "rrule")
              if name in reader.names}
    if "weekdays" in reader.names:
        fields["weekdays"] = values.getlist("weekdays")
    return fields


@pytest.fixture
def signed_in(client, session, member, clock):
    clock(datetime(2026, 11, 22, 15, tzinfo=timezone.utc))  # TODAY, in the afternoon
    log_in(client, member)
    return client


def editor_of(client, profile) -> Controls:
    return controls(client.get(f"/autoship/{profile.id}").get_data(as_text=True), "/schedule")


@pytest.mark.parametrize(("rule", "fields"), [
    (Recurrence.monthly(7), {"kind": kinds.MONTHLY_DAY, "interval": "1", "day": "7"}),
    (Recurrence.monthly(31), {"kind": kinds.MONTHLY_DAY, "interval": "1", "day": "31"}),
    (Recurrence.weekly("MO", "TH", interval=3), {"kind": kinds.EVERY_WEEKS, "interval": "3",
                                                 "weekdays": ["MO", "TH"]}),
    (Recurrence.monthly_weekday(-1, "FR"), {"kind": kinds.MONTHLY_WEEKDAY, "interval": "1", "nth": "-1",
                                            "weekday": "FR"}),
    (Recurrence.parse("FREQ=MONTHLY;BYMONTHDAY=1,15"), {"kind": kinds.CUSTOM,
                                                        "rrule": "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=1,15"}),
], ids=str)
def test_the_editor_opens_on_the_kind_and_values_of_the_current_rule_and_saves_it_unchanged(
        signed_in, session, member, product, rule, fields):
    profile = new_profile(session, member, product, rule=rule)
    editor = editor_of(signed_in, profile)
    assert shown(editor) == fields  # and no field of another kind
    assert signed_in.post(f"/autoship/{profile.id}/schedule", data=MultiDict(editor.values)).status_code == 303
    session.expire_all()
    assert Recurrence.parse(profile.rrule) == rule
    assert session.scalar(select(AutoshipEvent.details).where(AutoshipEvent.profile_id == profile.id)
                          .order_by(AutoshipEvent.id.desc()).limit(1)).startswith(rule.describe())


def test_choosing_another_kind_without_javascript_shows_its_fields_and_saves_nothing(
        signed_in, session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.monthly(7))
    editor = editor_of(signed_in, profile)
    chosen = MultiDict(editor.values)
    chosen["kind"] = kinds.MONTHLY_WEEKDAY
    chosen["show_fields"] = "1"
    response = signed_in.post(f"/autoship/{profile.id}/schedule", data=chosen)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert shown(controls(page, "/schedule")) == {"kind": kinds.MONTHLY_WEEKDAY, "interval": "1", "nth": "1",
                                                  "weekday": "MO"}
    assert re.search(r"<details\s+open>\s*<summary><strong>Change the schedule", page)  # still open
    session.expire_all()
    assert profile.rrule == str(Recurrence.monthly(7))


def test_the_new_standing_order_form_re_renders_for_the_kind_chosen_without_javascript(signed_in, session):
    blank = controls(signed_in.get("/autoship/new").get_data(as_text=True), None)
    assert shown(blank) == {"kind": kinds.EVERY_MONTHS, "interval": "1"}  # no RRULE to be seen
    values = MultiDict(blank.values)
    values["kind"], values["show_fields"] = kinds.CUSTOM, "1"
    response = signed_in.post("/autoship/new", data=values)
    assert response.status_code == 200
    assert shown(controls(response.get_data(as_text=True), None)) == {"kind": kinds.CUSTOM, "rrule": ""}
    assert session.scalar(select(func.count()).select_from(AutoshipProfile)) == 0


def test_htmx_swaps_in_the_chosen_kinds_fields_with_the_values_typed(htmx, session, member, clock):
    log_in(htmx, member)
    response = htmx.get("/autoship/schedule-fields", query_string=MultiDict([
        ("kind", kinds.EVERY_WEEKS), ("interval", "3"), ("day", "7"), ("weekdays", "MO"), ("weekdays", "TH")]))
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert response.headers["HX-Trigger-After-Settle"] == "scheduleFieldsShown"  # the preview follows
    assert shown(controls(f'<form action="x">{fragment}</form>', "x")) == {"interval": "3", "weekdays": ["MO", "TH"]}
    assert "Every" in page_text(fragment) and "weeks (1 = every week)" in page_text(fragment)
    custom = htmx.get("/autoship/schedule-fields", query_string={"kind": kinds.CUSTOM, "interval": "3",
                                                                 "rrule": "FREQ=MONTHLY;BYDAY=-1FR"})
    assert shown(controls(f'<form action="x">{custom.get_data(as_text=True)}</form>', "x")) == {
        "rrule": "FREQ=MONTHLY;BYDAY=-1FR"}


def test_the_kind_select_asks_for_its_fields_and_the_preview_follows(signed_in, session, member, product):
    profile = new_profile(session, member, product, rule=Recurrence.monthly(7))
    page = signed_in.get(f"/autoship/{profile.id}").get_data(as_text=True)
    assert 'hx-get="/autoship/schedule-fields"' in page and 'hx-target="#schedule-kind-fields"' in page
    assert "scheduleFieldsShown from:closest form" in page


def test_the_preview_of_a_new_kind_describes_it_in_words(signed_in):
    response = signed_in.get("/autoship/preview", query_string=MultiDict([
        ("kind", kinds.MONTHLY_WORKDAY), ("interval", "1"), ("nth", "-1"), ("regularity", "calendar"),
        ("first_date", (TODAY + timedelta(days=10)).isoformat())]))
    assert response.status_code == 200
    assert "Monthly on the last weekday" in page_text(response.get_data(as_text=True))


# --------------------------------------------------------------------- lists


def test_lists_name_schedules_in_words_never_as_rrules(signed_in, session, member, product):
    new_profile(session, member, product, rule=Recurrence.every(3, "weeks"))
    new_profile(session, member, product, rule=Recurrence.weekly("MO", "TH", interval=3))
    new_profile(session, member, product, rule=Recurrence.monthly(31))
    member_list = page_text(signed_in.get("/autoship/").get_data(as_text=True))
    post_form(signed_in, "/logout", page="/autoship/")
    log_in(signed_in, make_admin(session))
    admin_list = page_text(signed_in.get("/admin/autoship/profiles").get_data(as_text=True))
    for listed in (member_list, admin_list):
        assert "Every 3 weeks on Monday and Thursday" in listed
        assert "Every 3 weeks on Wednesday" in listed  # the first date's weekday, written out
        assert "Monthly on day 31 (or the last day of shorter months)" in listed
        assert "FREQ=" not in listed
