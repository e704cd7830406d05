"""Who is in a team: people are looked up inside the owner's downline range only."""

from __future__ import annotations

import pytest

from portal.downline.scope import person_in_downline
from portal.errors import NotFound


def test_person_in_downline_is_a_range_check(session, team):
    assert person_in_downline(session, team.people[1], "M1111").id == team.people[1111].id
    for outsider in ("M1", "M9", "M12", "M121", "M123", "nobody", "M1;--", ""):
        with pytest.raises(NotFound):
            person_in_downline(session, team.people[1], outsider)
