"""The team tree: direct recruits one level at a time."""

from __future__ import annotations

from portal.downline.tree import direct_recruits_page


def test_direct_recruits_with_counts_and_status(session, team):
    nodes, after = direct_recruits_page(session, team.people[1])
    assert [(n.member_number, n.recruits, n.status) for n in nodes] == [
        ("M100", 0, "paused"), ("M11", 2, "active")]
    assert after is None
    nodes, after = direct_recruits_page(session, team.people[9], size=2)
    assert len(nodes) == 2 and after
