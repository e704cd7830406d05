"""Order states and the only place their transitions are decided."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    OPEN = "open"              # a single-action order still open for combining
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    RELEASED = "released"      # handed to the warehouse in a shipment
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


STATUS_LABELS = {
    OrderStatus.OPEN: "Open for additions",
    OrderStatus.PENDING_PAYMENT: "Awaiting payment",
    OrderStatus.PAID: "Paid",
    OrderStatus.PAYMENT_FAILED: "Payment failed",
    OrderStatus.RELEASED: "Being packed",
    OrderStatus.SHIPPED: "Shipped",
    OrderStatus.DELIVERED: "Delivered",
    OrderStatus.CANCELLED: "Cancelled",
}

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.OPEN: frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID,
                                 OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED}),
    OrderStatus.PENDING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.PAYMENT_FAILED,
                                            OrderStatus.CANCELLED}),
    OrderStatus.PAYMENT_FAILED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.RELEASED, OrderStatus.CANCELLED}),
    OrderStatus.RELEASED: frozenset({OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

OPEN_STATUSES = frozenset({OrderStatus.OPEN, OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED,
                           OrderStatus.PAID, OrderStatus.RELEASED})


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(
            f"An order that is {STATUS_LABELS[OrderStatus(current)].lower()} cannot become "
            f"{STATUS_LABELS[OrderStatus(target)].lower()}.")
        self.current, self.target = current, target


def check_transition(current: str, target: str) -> None:
    if OrderStatus(target) not in ALLOWED_TRANSITIONS[OrderStatus(current)]:
        raise InvalidTransition(current, target)
