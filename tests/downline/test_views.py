"""The team pages over HTTP: who may see what, privacy, htmx fragments, CSV and odd input."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import event

from portal.extensions import db
from tests.conftest import log_in
from tests.factories import make_admin, make_user

LISTS = ["/team/autoships", "/team/autoships?sort=next&status=active", "/team/totals",
         "/team/attention", "/team/tree"]
PEOPLE = ["/team/tree/M11", "/team/people/M1111"]
CSV = "/team/autoships.csv"


def get(client, url, **kwargs):
    return client.get(url, buffered=True, **kwargs)


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


@pytest.mark.parametrize("url", LISTS + PEOPLE + [CSV])
def test_the_upline_sees_every_page(client, team, url):
    log_in(client, team.people[1])
    response = get(client, url)
    assert response.status_code == 200


@pytest.mark.parametrize("url", LISTS + PEOPLE + [CSV])
def test_an_admin_sees_a_team_as_its_ibo_would(client, session, team, url):
    log_in(client, make_admin(session, id=90_001))  # explicit id: the tree took ids unknown to the sequence
    joiner = "&" if "?" in url else "?"
    response = get(client, f"{url}{joiner}as=M1")
    assert response.status_code == 200
    if url != CSV:
        assert "as=M1" in response.get_data(as_text=True)  # links keep the chosen IBO


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


def test_an_ibo_with_an_empty_downline_sees_empty_pages(client, team):
    log_in(client, team.people[1111])  # an IBO with nobody below
    for url in LISTS:
        assert get(client, url).status_code == 200
    assert "Nobody in this downline yet" in get(client, "/team/autoships").get_data(as_text=True)


def test_the_person_page_keeps_payment_and_street_private_and_has_no_controls(client, team):
    log_in(client, team.people[1])
    page = get(client, "/team/people/M1111").get_data(as_text=True)
    assert "Madison, WI" in page and "Card on file, valid for the next run" in page
    for secret in ("Secret Lane", "4242", "Visa", "ending", "62704"):
        assert secret not in page
    main = page.split('<main', 1)[1].split('</main>', 1)[0]
    assert "<form" not in main and "<button" not in main
    assert "/autoship/" not in main  # no link to the owner's edit screens


def test_the_list_shows_level_sponsor_status_date_and_pv(client, team):
    log_in(client, team.people[1])
    page = get(client, "/team/autoships").get_data(as_text=True)
    row = re.search(r"<tr>\s*<td class=\"num\">2</td>.*?M1111.*?</tr>", page, re.S).group(0)
    assert "M11<" in row and "Active" in row and "40.00" in row


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
    assert get(client, more).status_code == 200  # the same link works without JavaScript


def test_csv_streams_every_matching_row(client, team):
    log_in(client, team.people[9])
    response = get(client, "/team/autoships.csv?status=active")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert sorted(r["member_number"] for r in rows) == ["M11", "M1111", "M121"]
    assert {r["member_number"]: r["cycle_pv"] for r in rows}["M1111"] == "40.00"


def test_csv_cells_never_become_formulas(client, session, team):
    team.people[11].first_name = "=HYPERLINK(1)"
    session.commit()
    log_in(client, team.people[1])
    body = get(client, CSV).get_data(as_text=True)
    assert "'=HYPERLINK(1)" in body


@pytest.mark.parametrize("query", [
    "level=abc", "level=0", "level=99999999999999999999", "status=zzz", "next_from=2026-13-45",
    "next_from=yesterday&next_to=2026-02-30", "sort=drop", "q=%25_%5C", "q=" + "x" * 500,
    "size=-1", "size=99999999", "next_from=2027-01-01&next_to=2026-01-01", "level=1&level=x",
    "level=%C2%B2", "size=%C2%B2", "level=%D9%A1",  # '²' passes isdigit() and fails int()
])
def test_odd_filters_never_fail(client, team, query):
    log_in(client, team.people[1])
    assert get(client, f"/team/autoships?{query}").status_code == 200
    assert get(client, f"/team/autoships.csv?{query}").status_code == 200


@pytest.mark.parametrize("url", [
    "/team/autoships?cursor=garbage", "/team/autoships?cursor=" + "A" * 3000,
    "/team/attention?cursor=e30", "/team/autoships?sort=pv&cursor=WyJ0cmVlIiwiLzEvIiwxXQ",
])
def test_damaged_cursors_are_a_400(client, team, url):
    log_in(client, team.people[1])
    response = get(client, url)
    assert response.status_code == 400
    assert "damaged" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/team/people/%00", "/team/autoships?q=%00", "/team/people/" + "9" * 40,
                                 "/team/tree/M1?after=../../", "/team/tree?after=%2F1%2F%00"])
def test_odd_urls_are_4xx_or_harmless(client, team, url):
    log_in(client, team.people[1])
    assert get(client, url).status_code in (200, 400, 404)


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


def test_the_tree_loads_one_level_at_a_time(client, htmx, team):
    log_in(client, team.people[1])
    log_in(htmx, team.people[1])
    page = get(client, "/team/tree").get_data(as_text=True)
    assert "Show 2 recruits" in page and "M1111" not in page
    fragment = get(htmx, "/team/tree/M11").get_data(as_text=True)
    assert "M111" in fragment and "M1111" in fragment and "<html" not in fragment


def test_navigation_shows_team_to_ibos_only(client, session, team):
    log_in(client, team.people[1])
    assert 'href="/team/autoships"' in get(client, "/team/totals").get_data(as_text=True)
    member = make_user(session, id=90_002, sponsor=team.people[9])
    session.commit()
    client.post("/logout", data={})
    other = client.application.test_client()
    log_in(other, member)
    assert 'href="/team/autoships"' not in other.get("/shop/").get_data(as_text=True)
