"""The cancellation flow's services: a reason, an offer taken through the standing order's own
service or a cancel, each recorded once."""

from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from portal.autoship.models import AutoshipEvent, ProfileStatus
from portal.autoship.profiles import AlreadyDone, AutoshipError
from portal.retention.cancellation import REASONS, cancel_with_reason, offers_for, take_offer
from portal.retention.models import Cancellation
from tests.factories import make_product
from tests.retention.conftest import RULES, TODAY, new_profile

KEY = "page-key-0123456789abc"


def answers(session):
    return session.scalars(select(Cancellation).order_by(Cancellation.id)).all()


def test_each_reason_brings_its_offers_and_an_inactive_standing_order_none(session, member, product):
    profile = new_profile(session, member, product)
    assert [o.kind for o in offers_for(profile, "away", TODAY, RULES)] == ["pause", "later"]
    assert [o.kind for o in offers_for(profile, "too_expensive", TODAY, RULES)] == ["swap", "schedule", "skip"]
    assert offers_for(profile, "too_much", TODAY, RULES)[0].skip_date == profile.next_run_date
    assert all(offers_for(profile, reason, TODAY, RULES) for reason in REASONS)
    closing = TODAY + timedelta(days=9)  # the next shipment is being prepared
    [skip] = offers_for(profile, "too_much", closing, RULES)
    assert skip.kind == "skip" and skip.skip_date == profile.next_run_date + relativedelta(months=1)
    assert offers_for(profile, "away", closing, RULES) == []  # nothing to pause or move now
    profile.status = ProfileStatus.PAUSED
    assert offers_for(profile, "away", TODAY, RULES) == []


def test_cancelling_with_a_reason_cancels_and_keeps_why(session, member, product):
    profile = new_profile(session, member, product)
    answered = cancel_with_reason(session, user=member, profile=profile, reason="too_expensive",
                                  details="  Too   dear\tfor me ", key=KEY, today=TODAY, rules=RULES)
    assert profile.status == ProfileStatus.CANCELLED
    [record] = answers(session)
    assert (record.reason, record.details, record.outcome, record.offer) == (
        "too_expensive", "Too dear for me", "cancelled", None)
    assert "cancelled" in answered.record.answer


def test_cancelling_without_a_reason_is_recorded_as_not_given(session, member, product):
    profile = new_profile(session, member, product)
    cancel_with_reason(session, user=member, profile=profile, reason=None, details=None, key=KEY,
                       today=TODAY, rules=RULES)
    assert answers(session)[0].reason == "not_given"


@pytest.mark.parametrize("reason, details, message", [
    ("bored", "", "Choose one of the reasons"),
    ("other", "x" * 501, "at most 500"),
])
def test_unknown_reasons_and_long_text_are_refused(session, member, product, reason, details, message):
    profile = new_profile(session, member, product)
    with pytest.raises(AutoshipError, match=message):
        cancel_with_reason(session, user=member, profile=profile, reason=reason, details=details,
                           key=KEY, today=TODAY, rules=RULES)
    assert profile.status == ProfileStatus.ACTIVE and answers(session) == []


def test_the_same_cancel_sent_twice_cancels_and_records_once(session, member, product):
    profile = new_profile(session, member, product)
    for _ in range(2):
        answered = cancel_with_reason(session, user=member, profile=profile, reason="other", details="",
                                      key=KEY, today=TODAY, rules=RULES)
    assert answered.repeated and len(answers(session)) == 1
    assert session.scalar(select(func.count()).select_from(AutoshipEvent)
                          .where(AutoshipEvent.action == "cancelled")) == 1


def offer(session, member, profile, kind, key=KEY, **values):
    return take_offer(session, user=member, profile=profile, reason="too_much", details="", key=key,
                      offer=kind, today=TODAY, rules=RULES, **values)


def test_each_offer_keeps_the_standing_order_through_its_own_service(session, member, product):
    tea = make_product(session, name="Tea")
    profile = new_profile(session, member, product)
    nxt = profile.next_run_date
    offer(session, member, profile, "skip", key="a" * 20, day=nxt)
    assert profile.next_run_date > nxt and [s.skip_date for s in profile.skips] == [nxt]
    later = profile.next_run_date + timedelta(days=5)
    offer(session, member, profile, "later", key="b" * 20, day=later)
    assert profile.next_run_date == later
    offer(session, member, profile, "schedule", key="c" * 20, months=3)
    assert "FREQ=MONTHLY" in profile.rrule and "INTERVAL=3" in profile.rrule
    offer(session, member, profile, "swap", key="d" * 20, item_id=profile.items[0].id, product_id=tea.id)
    assert profile.items[0].product_id == tea.id
    offer(session, member, profile, "pause", key="e" * 20, day=TODAY + timedelta(days=60))
    assert profile.status == ProfileStatus.PAUSED
    assert [(a.outcome, a.offer) for a in answers(session)] == [
        ("saved", "skip"), ("saved", "later"), ("saved", "schedule"), ("saved", "swap"), ("saved", "pause")]


def test_an_offer_the_service_refuses_records_nothing(session, member, product):
    profile = new_profile(session, member, product)
    with pytest.raises(AutoshipError):
        offer(session, member, profile, "later", day=TODAY - timedelta(days=1))
    with pytest.raises(AutoshipError, match="how often"):
        offer(session, member, profile, "schedule", months=7)
    with pytest.raises(AutoshipError, match="one of the offers"):
        offer(session, member, profile, "refund")
    session.rollback()
    assert answers(session) == []


def test_an_offer_sent_twice_is_taken_once_and_another_choice_from_that_page_is_refused(session, member, product):
    profile = new_profile(session, member, product)
    nxt = profile.next_run_date
    offer(session, member, profile, "skip", day=nxt)
    again = offer(session, member, profile, "skip", day=nxt)
    assert again.repeated and len(profile.skips) == 1 and len(answers(session)) == 1
    with pytest.raises(AlreadyDone, match="already answered"):
        cancel_with_reason(session, user=member, profile=profile, reason="too_much", details="",
                           key=KEY, today=TODAY, rules=RULES)
    assert profile.status == ProfileStatus.ACTIVE
