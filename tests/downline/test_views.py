"""The team pages over HTTP: who may see what, privacy, htmx fragments, CSV and odd input."""

from __future__ import annotations

import csv
import html
import io
import re

import pytest
from sqlalchemy import event

from portal.autoship.recurrence import Recurrence
from portal.extensions import db
from tests.conftest import log_in
from tests.downline.conftest import give_autoship
from tests.factories import make_admin, make_user

LISTS = ["/team/autoships", "/team/autoships?sort=next&status=active", "/team/totals",
         "/team/attention", "/team/tree"]
PEOPLE = ["/team/tree/M11", "/team/people/M1111"]
CSV = "/team/autoships.csv"


def get(client, url, **kwargs):
    return client.get(url, buffered=True, **kwargs)


def text(markup: str) -> str:
    """What a reader sees of ``markup``: its text, tags and runs of white space gone."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def rows(markup: str) -> list[list[str]]:
    """Every table row of ``markup``, as the text of its cells."""
    return [[text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", markup, re.S)]


def content(page: str) -> str:
    """The text of a team page below its heading (the page's own data, not who is looking)."""
    return text(page.split("</hgroup>", 1)[1].split("</main>", 1)[0])


def shown_in_list(page: str) -> list[list[str]]:
    """The team list's rows without the names column: level, member no., sponsor, status,
    next run, PV, days since last order."""
    return [row[:1] + row[2:] for row in rows(page) if len(row) == 8 and row[0].isdigit()]


@pytest.mark.parametrize("url", LISTS + PEOPLE + [CSV])
def test_anonymous_visitors_are_sent_to_log_in(client, team, url):
    response = get(client, url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", LISTS + PEOPLE + [CSV])
def test_members_are_refused(client, session, team, url):
    log_in(client, team.people[100])  # a member inside the downline of 1
    assert get(client, url).status_code == 403


@pytest.mark.parametrize("url", PEOPLE)
def test_an_ibo_outside_the_downline_gets_404_for_its_people(client, team, url):
    log_in(client, team.people[12])  # IBO 12: /9/12/ - shares digits with 1 and 123, not a relative
    response = get(client, url)
    assert response.status_code == 404
    assert "M1111" not in response.get_data(as_text=True)


@pytest.mark.parametrize("url", LISTS + [CSV])
def test_an_ibo_outside_the_downline_sees_only_their_own_team(client, team, url):
    log_in(client, team.people[12])
    page = get(client, url).get_data(as_text=True)
    for outsider in ("M1111", "M111", "M100", "M11<", "M11,"):
        assert outsider not in page


def test_the_list_shows_one_row_per_person_with_level_sponsor_status_next_run_and_pv(
        client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    page = get(client, "/team/autoships").get_data(as_text=True)
    assert shown_in_list(page) == [
        ["1", "M100", "M1", "Paused", "—", "—", "—"],
        ["1", "M11", "M1", "Active", "Mar 6, 2027", "16.00", "—"],
        ["2", "M111", "M11", "Payment failed", "—", "—", "—"],
        # Two active: Mar 4 ships 3 eaches (24 PV); the one on the 21st is not added in.
        ["2", "M1111", "M11", "Active", "Mar 4, 2027", "24.00", "—"],
    ]
    assert ">PV next run</abbr></th>" in page and "PV per run" not in page


def test_the_list_filtered_by_status_and_sorted_by_next_run(client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    page = get(client, "/team/autoships?sort=next&status=active").get_data(as_text=True)
    assert [row[1] for row in shown_in_list(page)] == ["M1111", "M11"]
    assert '<option value="active" selected>' in page and '<option value="next" selected>' in page


def test_the_totals_page_shows_the_forecast_by_month_and_level_and_counts_by_status(
        client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    page = get(client, "/team/totals").get_data(as_text=True)
    table = rows(page)
    assert ["Level", "March 2027", "April 2027", "May 2027"] in table
    assert ["1", "16.00", "16.00", "16.00"] in table  # M11: 2 eaches on the 6th
    assert ["2", "40.00", "40.00", "40.00"] in table  # M1111: 3 on the 4th, 2 on the 21st
    assert ["Total PV", "56.00", "56.00", "56.00"] in table and ["Runs", "3", "3", "3"] in table
    assert "Mar 2027: 56.00 PV. Apr 2027: 56.00 PV. May 2027: 56.00 PV." in text(page)  # the chart
    standing_orders = table[table.index(["Standing orders", "Count"]) + 1:][:5]
    assert standing_orders == [["Active", "3"], ["Payment failed", "1"], ["Needs a new schedule", "0"],
                               ["Paused", "1"], ["Cancelled", "0"]]
    people = table[table.index(["People (by their best status)", "Count"]) + 1:][:7]
    assert people == [["Active", "2"], ["Paused", "1"], ["Payment failed", "1"],
                      ["Needs a new schedule", "0"], ["Cancelled", "0"], ["No autoship", "0"],
                      ["Everyone in the downline", "4"]]


def test_the_attention_page_lists_each_standing_order_with_its_reasons(client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    page = get(client, "/team/attention").get_data(as_text=True)
    assert [[row[0], row[1].split()[-1], *row[2:]] for row in rows(page)[1:]] == [
        ["1", "M100", "Autoship M100", "Paused", "—", "Paused in the last 30 days"],
        ["2", "M111", "Autoship M111", "Payment failed", "—", "Last payment failed"],
    ]


def test_the_tree_shows_direct_recruits_with_their_status_and_opens_one_level_at_a_time(
        client, htmx, team_on_march_1st):
    team = team_on_march_1st
    log_in(client, team.people[1])
    log_in(htmx, team.people[1])
    page = content(get(client, "/team/tree").get_data(as_text=True))
    assert "M100 Paused" in page and "M11 · IBO Active 2 recruits" in page
    assert "M1111" not in page
    # M11's branch is a closed disclosure that loads the recruits the first time it opens (and
    # holds a link to them without JavaScript), so it can be closed and opened again.
    branch = re.search(r'<li id="node-M11">.*?<details class="tree-branch">(.*?)</details>',
                       get(client, "/team/tree").get_data(as_text=True), re.S).group(1)
    m11 = team.people[11]
    assert text(branch.split("</summary>")[0]) == f"2 recruits of {m11.first_name} {m11.last_name}"
    assert 'hx-get="/team/tree/M11"' in branch and 'hx-trigger="toggle once from:closest details"' in branch
    assert '<a href="/team/tree/M11">' in branch
    fragment = get(htmx, "/team/tree/M11").get_data(as_text=True)
    assert "<html" not in fragment
    assert "M111 Payment failed" in text(fragment) and "M1111 · IBO Active" in text(fragment)


def test_the_person_page_shows_each_standing_order_with_its_runs_items_and_pv(
        client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    page = get(client, "/team/people/M1111").get_data(as_text=True)
    assert "Member number M1111 · IBO · level 2 · sponsored by" in text(page)
    shown = content(page)
    first, second = shown.split("Autoship M1111 Active")[1:]
    assert first.startswith(" Monthly on day 4 Next runs Thu, Mar 4, 2027 Sun, Apr 4, 2027")
    assert "PV per run: 24.00" in first and "Card on file, valid for the next run" in first
    assert second.startswith(" Monthly on day 21 Next runs Sun, Mar 21, 2027")
    assert "PV per run: 16.00" in second
    items = [row for row in rows(page) if row[0].startswith("Vitamin D")]
    assert [row[1:] for row in items] == [["Each", "3", "3", "24.00"], ["Each", "2", "2", "16.00"]]


def test_the_csv_has_the_rows_and_values_of_the_list(client, team_on_march_1st):
    log_in(client, team_on_march_1st.people[1])
    response = get(client, CSV)
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="downline-autoships-M1-2027-03-01.csv"')
    lines = [row[:1] + row[3:] for row in csv.reader(io.StringIO(response.get_data(as_text=True)))]
    assert lines == [
        ["member_number", "level", "sponsor", "autoship_status", "next_run_date", "pv_next_run",
         "days_since_last_order"],
        ["M100", "1", "M1", "paused", "", "0.00", ""],
        ["M11", "1", "M1", "active", "2027-03-06", "16.00", ""],
        ["M111", "2", "M11", "payment_failed", "", "0.00", ""],
        ["M1111", "2", "M11", "active", "2027-03-04", "24.00", ""],
    ]


def tabs(page: str) -> list[tuple[str, str, bool]]:
    """The team's tabs: (label, link, whether it is the current page)."""
    nav = re.search(r'<nav class="subnav" aria-label="Team">(.*?)</nav>', page, re.S).group(1)
    return [(text(label), href, "aria-current" in rest)
            for href, rest, label in re.findall(r'<a href="([^"]*)"([^>]*)>(.*?)</a>', nav, re.S)]


def test_everyone_in_the_downline_is_a_tab_of_the_team_pages(client, team):
    log_in(client, team.people[1])
    expected = [("Autoships", "/team/autoships"), ("Totals and forecast", "/team/totals"),
                ("Needs attention", "/team/attention"), ("Tree", "/team/tree"),
                ("Volume and ranks", "/team/volume"), ("Everyone", "/downline/")]
    for url in ("/team/tree", "/downline/"):
        shown = tabs(get(client, url).get_data(as_text=True))
        assert [(label, href) for label, href, _ in shown] == expected
        assert [href for _, href, current in shown if current] == [url]


@pytest.mark.parametrize("url", LISTS + PEOPLE + [CSV])
def test_an_admin_sees_a_team_as_its_ibo_would(client, session, team, url):
    ibo = client.application.test_client()
    log_in(ibo, team.people[1])
    as_the_ibo = get(ibo, url).get_data(as_text=True)
    log_in(client, make_admin(session, id=90_001))  # explicit id: the tree took ids unknown to the sequence
    joiner = "&" if "?" in url else "?"
    response = get(client, f"{url}{joiner}as=M1")
    assert response.status_code == 200
    if url == CSV:
        assert response.get_data(as_text=True) == as_the_ibo
    else:
        page = response.get_data(as_text=True)
        assert content(page) == content(as_the_ibo) != ""
        assert "as=M1" in page  # links keep the chosen IBO


def test_an_admin_without_an_ibo_gets_a_picker_and_unknown_ibos_404(client, session, team):
    log_in(client, make_admin(session, id=90_001))  # explicit id: the tree took ids unknown to the sequence
    assert "IBO member number" in get(client, "/team/autoships").get_data(as_text=True)
    assert get(client, "/team/autoships?as=M100").status_code == 404  # a member, not an IBO
    assert get(client, "/team/autoships?as=nobody").status_code == 404
    assert get(client, "/team/people/M1111").status_code == 404


def test_an_ibo_cannot_borrow_another_team_with_as(client, team):
    log_in(client, team.people[12])
    page = get(client, "/team/autoships?as=M1").get_data(as_text=True)
    assert "M1111" not in page and "M121" in page


@pytest.mark.parametrize("url, says", [
    ("/team/autoships", "Nobody in this downline yet."),
    ("/team/totals", "No active standing orders run in these months."),
    ("/team/attention", "Nothing needs attention right now."),
    ("/team/tree", "No recruits yet."),
])
def test_an_ibo_with_an_empty_downline_sees_empty_pages(client, team, url, says):
    log_in(client, team.people[1111])  # an IBO with nobody below
    page = get(client, url).get_data(as_text=True)
    assert says in page
    assert shown_in_list(page) == []


def test_the_person_page_keeps_payment_and_street_private_and_has_no_controls(client, team):
    log_in(client, team.people[1])
    page = get(client, "/team/people/M1111").get_data(as_text=True)
    assert "Madison, WI" in page and "Card on file, valid for the next run" in page
    for secret in ("Secret Lane", "4242", "Visa", "ending", "62704"):
        assert secret not in page
    main = page.split('<main', 1)[1].split('</main>', 1)[0]
    assert "<form" not in main and "<button" not in main
    assert "/autoship/" not in main  # no link to the owner's edit screens


def test_htmx_gets_the_fragment_and_show_more_appends_rows(client, htmx, team):
    log_in(client, team.people[9])
    log_in(htmx, team.people[9])
    first = get(htmx, "/team/autoships?size=5")
    body = first.get_data(as_text=True)
    assert "<html" not in body and 'id="team-results"' in body
    assert "HX-Request" in first.headers["Vary"]
    more = re.search(r'hx-get="([^"]+)"[^>]*>Show more', body).group(1).replace("&amp;", "&")
    second = get(htmx, more).get_data(as_text=True)
    assert "<table" not in second and second.count("<tr>") == 5
    assert not {row[1] for row in shown_in_list(body)} & {row[1] for row in shown_in_list(second)}
    without_js = get(client, more).get_data(as_text=True)  # the same link works without JavaScript
    assert "<html" in without_js and shown_in_list(without_js) == shown_in_list(second)


def test_csv_streams_every_matching_row(client, team):
    log_in(client, team.people[9])
    response = get(client, "/team/autoships.csv?status=active")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(r["member_number"] for r in rows) == ["M11", "M1111", "M121"]
    assert {r["member_number"]: r["pv_next_run"] for r in rows}["M1111"] == "24.00"


def test_csv_cells_never_become_formulas(client, session, team):
    team.people[11].first_name = "=HYPERLINK(1)"
    team.people[11].last_name = "@SUM(A1)"
    session.commit()
    log_in(client, team.people[1])
    body = get(client, CSV).get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body and "'@SUM(A1)" in body


LEVEL_IGNORED = "Level must be a number from 1 to 60; it was ignored."
NOT_A_DATE = "is not a date we can use"


@pytest.mark.parametrize("query, notice, shown", [
    ("level=abc", LEVEL_IGNORED, 4),
    ("level=0", LEVEL_IGNORED, 4),
    ("level=99999999999999999999", LEVEL_IGNORED, 4),
    ("level=%C2%B2", LEVEL_IGNORED, 4),  # '²' passes isdigit() and fails int()
    ("level=%D9%A1", LEVEL_IGNORED, 4),
    ("level=1&level=x", None, 2),  # the first value counts
    ("status=zzz", "That autoship status is unknown; it was ignored.", 4),
    ("next_from=2026-13-45", NOT_A_DATE, 4),
    ("next_from=yesterday&next_to=2026-02-30", NOT_A_DATE, 4),
    ("next_from=2200-06-01&next_to=2200-01-01", "the dates were swapped", 0),  # nobody runs in 2200
    ("sort=drop", "That sort order is unknown; the list is in tree order.", 4),
    ("q=%25_%5C", None, 0),  # LIKE wildcards are searched for literally
    ("q=" + "x" * 500, "The search was cut to its first 80 characters.", 0),
    ("size=-1", None, 4),
    ("size=99999999", None, 4),
    ("size=%C2%B2", None, 4),
])
def test_odd_filters_never_fail_and_say_what_was_ignored(client, team, query, notice, shown):
    log_in(client, team.people[1])
    page = get(client, f"/team/autoships?{query}").get_data(as_text=True)
    if notice:
        assert notice in html.unescape(page)
    assert len(shown_in_list(page)) == shown
    exported = get(client, f"/team/autoships.csv?{query}").get_data(as_text=True)
    assert len(exported.splitlines()) == 1 + shown


@pytest.mark.parametrize("url", [
    "/team/autoships?cursor=garbage", "/team/autoships?cursor=" + "A" * 3000,
    "/team/attention?cursor=e30", "/team/autoships?sort=pv&cursor=WyJ0cmVlIiwiLzEvIiwxXQ",
])
def test_damaged_cursors_are_a_400(client, team, url):
    log_in(client, team.people[1])
    response = get(client, url)
    assert response.status_code == 400
    assert "damaged" in response.get_data(as_text=True)


@pytest.mark.parametrize("url, status", [
    ("/team/people/%00", 400), ("/team/autoships?q=%00", 400), ("/team/tree?after=%2F1%2F%00", 400),
    ("/team/people/" + "9" * 40, 404),
    ("/team/tree/M1?after=../../", 404),  # M1 is the team's owner, not in their downline
])
def test_odd_urls_are_refused(client, team, url, status):
    log_in(client, team.people[1])
    assert get(client, url).status_code == status


def test_a_tree_link_that_is_not_a_path_starts_from_the_first_recruit(client, team):
    log_in(client, team.people[1])
    page = content(get(client, "/team/tree?after=../../").get_data(as_text=True))
    assert "M100 Paused" in page and "M11 · IBO Active" in page


def test_the_query_count_does_not_grow_with_the_page_size(client, team):
    log_in(client, team.people[9])
    counts = {}

    def count(*args, **kwargs):
        counts[current] = counts.get(current, 0) + 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for current in ("size=2", "size=10", "size=2&sort=pv", "size=10&sort=pv"):
            get(client, f"/team/autoships?{current}")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert counts["size=2"] == counts["size=10"] == counts["size=2&sort=pv"] == counts["size=10&sort=pv"]


def test_navigation_shows_team_to_ibos_only(client, session, team):
    log_in(client, team.people[1])
    assert 'href="/team/autoships"' in get(client, "/team/totals").get_data(as_text=True)
    member = make_user(session, id=90_002, sponsor=team.people[9])
    session.commit()
    client.post("/logout", data={})
    other = client.application.test_client()
    log_in(other, member)
    assert 'href="/team/autoships"' not in other.get("/shop/").get_data(as_text=True)


def test_the_person_page_and_the_team_lists_name_schedules_in_words(client, session, redis, team):
    person = team.people[1111]
    give_autoship(session, redis, person, team.product, rule=Recurrence.weekly("MO", "TH", interval=3))
    give_autoship(session, redis, person, team.product, rule=Recurrence.monthly(31))
    session.commit()
    log_in(client, team.people[1])
    shown = content(get(client, f"/team/people/{person.member_number}").get_data(as_text=True))
    assert "Every 3 weeks on Monday and Thursday" in shown
    assert "Monthly on day 31 (or the last day of shorter months)" in shown
    for url in [*LISTS, f"/team/people/{person.member_number}"]:
        assert "FREQ=" not in get(client, url).get_data(as_text=True), url
