import pytest

from portal.orders.states import ALLOWED_TRANSITIONS, InvalidTransition, OrderStatus, check_transition

ALL = list(OrderStatus)


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("target", ALL)
def test_only_the_listed_transitions_are_allowed(current, target):
    if target in ALLOWED_TRANSITIONS[current]:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransition, match="cannot become"):
            check_transition(current, target)


def test_delivered_and_cancelled_are_final():
    assert ALLOWED_TRANSITIONS[OrderStatus.DELIVERED] == ALLOWED_TRANSITIONS[OrderStatus.CANCELLED] == frozenset()


def test_a_shipped_order_can_no_longer_be_cancelled():
    with pytest.raises(InvalidTransition, match="shipped cannot become cancelled"):
        check_transition("shipped", "cancelled")
