"""The sponsor tree: placing people, downline membership, depth-first keyset pages, counts, upline."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from portal.accounts.models import Role, User
from portal.genealogy.queries import (direct_recruits, downline_counts_by_level, downline_page,
                                      downline_size, is_in_downline, is_in_downline_by_id, upline)
from portal.genealogy.services import MAX_DEPTH, place_in_tree
from tests.factories import make_admin, make_ibo, make_user
from tests.genealogy.trees import (PREFIX_SPONSORS, PREFIX_TREE, ancestors, build_tree,
                                   descendants, is_depth_first)


def all_pages(session, ancestor, limit: int, max_level: int | None = None) -> tuple[list, int]:
    """Every row, walking the keyset cursor page by page; and how many pages it took."""
    rows, after, pages = [], None, 0
    while True:
        page = downline_page(session, ancestor, after=after, limit=limit, max_level=max_level)
        pages += 1
        assert len(page.rows) <= limit
        rows.extend(page.rows)
        if page.next_after is None:
            return rows, pages
        assert page.next_after == page.rows[-1].tree_path
        after = page.next_after


# --- placing people -------------------------------------------------------------------------

def test_the_root_has_a_path_of_its_own_id(session):
    root = make_ibo(session, root=True)
    assert root.tree_path == f"/{root.id}/"
    assert root.depth == 0
    assert root.sponsor_id is None


def test_a_recruit_path_extends_the_sponsor_path(session):
    root = make_ibo(session, root=True)
    ibo = make_ibo(session, sponsor=root)
    member = make_user(session, sponsor=ibo)
    assert ibo.tree_path == f"/{root.id}/{ibo.id}/"
    assert member.tree_path == f"/{root.id}/{ibo.id}/{member.id}/"
    assert (root.depth, ibo.depth, member.depth) == (0, 1, 2)
    assert member.sponsor_id == ibo.id


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
def test_only_an_ibo_can_sponsor(session, role):
    sponsor = make_user(session, role=role)
    newcomer = User(email="n@example.test", first_name="N", last_name="N", member_number="N1",
                    password_hash="x", role=Role.MEMBER)
    session.add(newcomer)
    with pytest.raises(ValueError, match="only IBOs sponsor"):
        place_in_tree(session, newcomer, sponsor)


def test_the_tree_has_a_maximum_depth(session):
    sponsor = make_ibo(session)
    sponsor.depth = MAX_DEPTH
    newcomer = User(email="n@example.test", first_name="N", last_name="N", member_number="N1",
                    password_hash="x", role=Role.MEMBER)
    session.add(newcomer)
    with pytest.raises(ValueError, match="deeper than supported"):
        place_in_tree(session, newcomer, sponsor)


# --- membership -----------------------------------------------------------------------------

@pytest.fixture
def prefix_tree(session):
    return build_tree(session, PREFIX_TREE)


@pytest.mark.parametrize("ancestor_id", sorted(PREFIX_SPONSORS))
def test_downline_membership_is_not_confused_by_ids_sharing_a_prefix(session, prefix_tree, ancestor_id):
    expected = set(descendants(PREFIX_SPONSORS, ancestor_id))
    for person_id, person in prefix_tree.items():
        wanted = person_id in expected
        assert is_in_downline(prefix_tree[ancestor_id], person) is wanted, (ancestor_id, person_id)
        assert is_in_downline_by_id(session, ancestor_id, person_id) is wanted, (ancestor_id, person_id)


def test_nobody_is_in_their_own_downline(session, prefix_tree):
    for person_id, person in prefix_tree.items():
        assert not is_in_downline(person, person)
        assert not is_in_downline_by_id(session, person_id, person_id)


def test_deep_descendants_are_in_the_downline_and_siblings_subtrees_are_not(session, prefix_tree):
    assert is_in_downline_by_id(session, 9, 12345)  # four levels down
    assert is_in_downline_by_id(session, 123, 12345)
    assert not is_in_downline_by_id(session, 12, 12345)  # 12 is a sibling of 123
    assert is_in_downline_by_id(session, 1, 1111)  # below 11, below 1
    assert not is_in_downline_by_id(session, 1, 121)  # 121 is below 12, not below 1
    assert not is_in_downline_by_id(session, 12345, 9)  # the upline is not the downline


def test_unknown_people_and_admins_are_in_nobody_s_downline(session, prefix_tree):
    admin = make_admin(session, id=99999)
    assert not is_in_downline_by_id(session, 9, 424242)
    assert not is_in_downline_by_id(session, 424242, 9)
    assert not is_in_downline(prefix_tree[9], admin)
    assert not is_in_downline(admin, prefix_tree[1])
    assert not is_in_downline_by_id(session, 9, admin.id)


# --- downline pages -------------------------------------------------------------------------

@pytest.mark.parametrize("ancestor_id", [9, 1, 12, 123, 10])
def test_a_downline_page_lists_everyone_below_in_depth_first_order_with_their_level(
        session, prefix_tree, ancestor_id):
    page = downline_page(session, prefix_tree[ancestor_id], limit=100)
    expected = descendants(PREFIX_SPONSORS, ancestor_id)

    assert {row.id: row.level for row in page.rows} == expected
    assert len(page.rows) == len(expected)
    assert is_depth_first(page.rows, ancestor_id)
    assert page.next_after is None


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 13, 14, 50])
def test_keyset_pages_cover_the_downline_without_gaps_or_repeats(session, prefix_tree, limit):
    whole = downline_page(session, prefix_tree[9], limit=1000).rows
    rows, pages = all_pages(session, prefix_tree[9], limit)

    assert [row.id for row in rows] == [row.id for row in whole]
    assert len({row.id for row in rows}) == len(rows) == len(PREFIX_TREE) - 1
    assert pages == max(1, -(-len(rows) // limit))


@pytest.mark.parametrize("max_level", [0, 1, 2, 3])
def test_max_level_keeps_only_the_nearest_levels(session, prefix_tree, max_level):
    rows, _ = all_pages(session, prefix_tree[9], limit=2, max_level=max_level)
    expected = {i: lvl for i, lvl in descendants(PREFIX_SPONSORS, 9).items() if lvl <= max_level}
    assert {row.id: row.level for row in rows} == expected
    assert len(rows) == len(expected)


def test_a_cursor_outside_the_downline_cannot_reach_other_people(session, prefix_tree):
    ancestor = prefix_tree[12]
    for after in ("/", "/0", "/9/", "/9/1/", "/9/12", "/9/12/", "/9/123/", "/99/", "~"):
        page = downline_page(session, ancestor, after=after, limit=100)
        assert {row.id for row in page.rows} <= {121}, after


def test_the_downline_of_someone_with_no_recruits_is_empty(session, prefix_tree):
    page = downline_page(session, prefix_tree[12345], limit=10)
    assert page.rows == [] and page.next_after is None
    assert downline_size(session, prefix_tree[12345]) == 0
    assert downline_counts_by_level(session, prefix_tree[12345]) == []


# --- counts and the upline ------------------------------------------------------------------

@pytest.mark.parametrize("ancestor_id", sorted(PREFIX_SPONSORS))
def test_downline_size_and_counts_by_level_match_the_tree(session, prefix_tree, ancestor_id):
    below = descendants(PREFIX_SPONSORS, ancestor_id)
    roles = {person_id: role for person_id, _, role in PREFIX_TREE}

    assert downline_size(session, prefix_tree[ancestor_id]) == len(below)
    expected = {}
    for person_id, level in below.items():
        people, ibos = expected.get(level, (0, 0))
        expected[level] = (people + 1, ibos + (roles[person_id] == Role.IBO))
    assert downline_counts_by_level(session, prefix_tree[ancestor_id]) == [
        (level, people, ibos) for level, (people, ibos) in sorted(expected.items())]


def test_counts_by_level_stop_at_the_maximum_level(session, prefix_tree):
    assert [level for level, _, _ in downline_counts_by_level(session, prefix_tree[9], max_level=2)] == [1, 2]


@pytest.mark.parametrize("person_id", sorted(PREFIX_SPONSORS))
def test_the_upline_runs_from_the_root_to_the_sponsor(session, prefix_tree, person_id):
    chain = [u.id for u in upline(session, prefix_tree[person_id])]
    assert chain == list(reversed(ancestors(PREFIX_SPONSORS, person_id)))


def test_an_admin_has_no_upline(session):
    assert upline(session, make_admin(session)) == []


def test_direct_recruits_are_only_the_first_level(session, prefix_tree):
    assert sorted(u.id for u in direct_recruits(session, prefix_tree[1])) == [11, 100]


# --- properties over random trees -----------------------------------------------------------

# Ids drawn mostly from numbers that are prefixes of one another.
PREFIXED_IDS = [1, 2, 3, 10, 11, 12, 13, 20, 21, 100, 101, 110, 111, 112, 120, 121, 123, 200,
                1000, 1001, 1010, 1100, 1111, 1200, 1230, 1234, 2000, 12345, 123456]
tree_ids = st.lists(st.one_of(st.sampled_from(PREFIXED_IDS), st.integers(1, 999_999)),
                    min_size=1, max_size=25, unique=True)


@st.composite
def random_trees(draw):
    """[(id, sponsor id, role)]: the first is the root; each later one picks an earlier IBO."""
    ids = draw(tree_ids)
    edges, ibos = [(ids[0], None, Role.IBO)], [ids[0]]
    for person_id in ids[1:]:
        sponsor = draw(st.sampled_from(ibos))
        role = draw(st.sampled_from([Role.IBO, Role.MEMBER]))
        edges.append((person_id, sponsor, role))
        if role == Role.IBO:
            ibos.append(person_id)
    return edges


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edges=random_trees(), data=st.data())
def test_downline_queries_agree_with_walking_the_sponsor_links(session, edges, data):
    session.execute(delete(User))
    people = build_tree(session, edges)
    sponsors = {person_id: sponsor_id for person_id, sponsor_id, _ in edges}
    ids = list(sponsors)

    pairs = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)), max_size=15))
    for ancestor_id, person_id in pairs:
        walked = ancestor_id in ancestors(sponsors, person_id)
        assert is_in_downline_by_id(session, ancestor_id, person_id) is walked
        assert is_in_downline(people[ancestor_id], people[person_id]) is walked

    ancestor_id = data.draw(st.sampled_from(ids))
    limit = data.draw(st.integers(1, 6))
    rows, _ = all_pages(session, people[ancestor_id], limit)
    below = descendants(sponsors, ancestor_id)
    assert len(rows) == len({row.id for row in rows})  # no repeats across pages
    assert {row.id: row.level for row in rows} == below  # no gaps, right levels
    assert is_depth_first(rows, ancestor_id)
    assert downline_size(session, people[ancestor_id]) == len(below)
