"""Two submissions of the same page at once (a double click that reaches two workers, two tabs):
the second waits for the first's lock on the standing order, then answers with its outcome."""

import pytest
from sqlalchemy import func, select

from portal.autoship.models import AutoshipEvent, AutoshipProfile
from portal.retention.cancellation import cancel_with_reason
from portal.retention.models import Cancellation, Swap
from portal.retention.swaps import swap_item
from tests.factories import make_product
from tests.races import run_behind
from tests.retention.conftest import RULES, TODAY, new_profile

KEY = "same-page-key-0123456789"


@pytest.mark.server
def test_the_same_cancel_twice_at_once_cancels_and_counts_once(app, session, member, product):
    profile = new_profile(session, member, product)
    session.commit()
    profile_id, member_id = profile.id, member.id
    cancel_with_reason(session, user=member, profile=profile, reason="other", details="", key=KEY,
                       today=TODAY, rules=RULES)

    def again(other):
        from portal.accounts.models import User
        return cancel_with_reason(other, user=other.get(User, member_id), profile=other.get(AutoshipProfile, profile_id),
                                  reason="other", details="", key=KEY, today=TODAY, rules=RULES)

    second = run_behind(app, session, again)
    assert not isinstance(second, Exception), second
    assert second.repeated
    assert session.scalar(select(func.count()).select_from(Cancellation)) == 1
    assert session.scalar(select(func.count()).select_from(AutoshipEvent).where(
        AutoshipEvent.action == "cancelled")) == 1


@pytest.mark.server
def test_the_same_swap_twice_at_once_swaps_once(app, session, member, product):
    tea = make_product(session, name="Tea")
    profile = new_profile(session, member, product)
    session.commit()
    profile_id, member_id, item_id, tea_id = profile.id, member.id, profile.items[0].id, tea.id
    swap_item(session, user=member, profile=profile, item_id=item_id, product_id=tea_id, unit_code=None,
              key=KEY, today=TODAY, rules=RULES)

    def again(other):
        from portal.accounts.models import User
        return swap_item(other, user=other.get(User, member_id), profile=other.get(AutoshipProfile, profile_id),
                         item_id=item_id, product_id=tea_id, unit_code=None, key=KEY, today=TODAY, rules=RULES)

    second = run_behind(app, session, again)
    assert not isinstance(second, Exception), second
    assert second.repeated
    assert session.scalar(select(func.count()).select_from(Swap)) == 1
    assert [i.quantity for i in session.get(AutoshipProfile, profile_id).items] == [2]
