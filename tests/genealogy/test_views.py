"""The downline page: for IBOs only, with counts, and "Show more" through htmx."""

from __future__ import annotations

import re

import pytest

from portal.accounts.models import Role
from tests.conftest import log_in
from tests.factories import make_user
from tests.genealogy.trees import PREFIX_TREE, build_tree

ROW = re.compile(r"<tr>\s*<td>(\d+)</td>\s*<td><span[^>]*></span>[^<]*</td>\s*<td>([^<]*)</td>")
PAGE_SIZE = 50


def rows(response) -> list[tuple[int, str]]:
    """(level, member number) of each downline row on the page, in order."""
    return [(int(level), number) for level, number in ROW.findall(response.get_data(as_text=True))]


def show_more_url(response) -> str | None:
    match = re.search(r'hx-get="([^"]+)"[^>]*>Show more<', response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def grow_downline(session, ibo, people: int) -> set[str]:
    """``people`` below ``ibo``: every tenth an IBO recruited directly, the rest below them."""
    numbers, sponsor = set(), ibo
    for n in range(people):
        direct = n % 10 == 0
        person = make_user(session, role=Role.IBO if direct else Role.MEMBER,
                           sponsor=ibo if direct else sponsor)
        sponsor = person if direct else sponsor
        numbers.add(person.member_number)
    return numbers


@pytest.mark.parametrize("role, status", [("member", 403), ("admin", 403), ("ibo", 200)])
def test_only_ibos_see_a_downline(client, session, role, status):
    log_in(client, make_user(session, role=role))
    response = client.get("/downline/")
    assert response.status_code == status
    assert ("Your downline" in response.get_data(as_text=True)) == (status == 200)


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/downline/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fdownline%2F"


def test_the_page_counts_the_downline_by_level_and_lists_it_depth_first(client, session):
    people = build_tree(session, PREFIX_TREE)
    log_in(client, people[1])

    response = client.get("/downline/")

    page = response.get_data(as_text=True)
    assert "4 people" in page
    assert "Level 1: 2" in page and "Level 2: 2" in page
    assert rows(response) == [(1, "M100"), (1, "M11"), (2, "M111"), (2, "M1111")]
    assert show_more_url(response) is None


def test_the_page_shows_nobody_outside_the_downline(client, session):
    people = build_tree(session, PREFIX_TREE)
    log_in(client, people[12])
    response = client.get("/downline/")
    assert rows(response) == [(1, "M121")]
    page = response.get_data(as_text=True)
    for outsider in ("M9", "M1", "M123", "M1234", "M12345", "M11", "M10"):
        assert f"<td>{outsider}</td>" not in page


def test_the_referral_link_carries_the_ibo_member_number(client, session):
    ibo = make_user(session, role=Role.IBO, member_number="31415926")
    log_in(client, ibo)
    page = client.get("/downline/").get_data(as_text=True)
    assert "/register?sponsor=31415926" in page
    assert "Nobody in your downline yet" in page


def test_show_more_through_htmx_returns_only_the_next_rows(client, htmx, session):
    ibo = make_user(session, role=Role.IBO)
    numbers = grow_downline(session, ibo, PAGE_SIZE + 7)
    log_in(client, ibo)
    log_in(htmx, ibo)

    first = client.get("/downline/")
    assert f"{PAGE_SIZE + 7} people" in first.get_data(as_text=True)
    assert len(rows(first)) == PAGE_SIZE
    more = show_more_url(first)
    assert more is not None

    fragment = htmx.get(more)

    assert fragment.status_code == 200
    assert "HX-Request" in fragment.headers.get("Vary", "")
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "<h1>" not in body and "Your downline" not in body
    assert len(rows(fragment)) == 7
    assert show_more_url(fragment) is None
    shown = [number for _, number in rows(first) + rows(fragment)]
    assert len(shown) == len(set(shown))
    assert set(shown) == numbers


def test_show_more_without_javascript_is_a_whole_page(client, session):
    ibo = make_user(session, role=Role.IBO)
    grow_downline(session, ibo, PAGE_SIZE + 1)
    log_in(client, ibo)
    response = client.get(show_more_url(client.get("/downline/")))
    assert response.status_code == 200
    assert "<html" in response.get_data(as_text=True)
    assert len(rows(response)) == 1


def test_the_whole_page_varies_on_htmx_too(client, session):
    log_in(client, make_user(session, role=Role.IBO))
    assert "HX-Request" in client.get("/downline/").headers.get("Vary", "")


@pytest.mark.parametrize("after", ["x" * 10_000, "../../", "١٢٣", "-5", "/9/12/", "%FF%FE", "/9/1/11/"])
def test_an_odd_cursor_is_harmless(client, session, after):
    people = build_tree(session, PREFIX_TREE)
    log_in(client, people[1])
    response = client.get(f"/downline/?after={after}")
    assert response.status_code == 200
    assert {number for _, number in rows(response)} <= {"M100", "M11", "M111", "M1111"}


@pytest.mark.parametrize("after", ["%00", "/9/%00", "/9/1/%00"])
def test_a_cursor_with_a_nul_byte_is_refused(client, session, after):
    people = build_tree(session, PREFIX_TREE)
    log_in(client, people[1])
    assert client.get(f"/downline/?after={after}").status_code == 400


def test_a_member_cannot_page_through_someone_else_s_downline(htmx, session):
    people = build_tree(session, PREFIX_TREE)
    log_in(htmx, people[100])  # a member below IBO 1
    response = htmx.get("/downline/?after=/9/1/")
    assert response.status_code == 403
    assert "M11" not in response.get_data(as_text=True)
