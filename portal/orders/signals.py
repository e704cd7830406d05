"""What orders announce to the concepts that depend on them, so that they never import them.

Signals are sent inside the unit of work that made the change, after it is flushed; receivers
run at once, in the same transaction and with the same session: what they write commits or
rolls back with it. The receivers are connected by the reacting concepts (their
``reactions.connect_signals``, called from ``create_app``)."""

from __future__ import annotations

from blinker import Namespace

orders_signals = Namespace()

charges_preparing = orders_signals.signal("charges-preparing", doc="""\
Orders are about to be charged by ``charging.charge``, before their attempts are written: what
a concept changes in their totals now (points paying for items) is what the card is charged.
Sender: the Flask app; keywords ``session`` and ``order_ids``.""")

payments_recorded = orders_signals.signal("payments-recorded", doc="""\
The gateway's answers to a batch of charges are recorded. Sent by ``charging.charge`` with the
Flask app as sender and keywords ``session`` and ``result`` (a ``BillingResult``: the orders
paid, declined and cancelled after their last attempt).""")

orders_paid = orders_signals.signal("orders-paid", doc="""\
Orders were paid by a charge (sent after ``payments_recorded`` when any was). Sender: the Flask
app; keywords ``session`` and ``order_ids``.""")

order_status_changed = orders_signals.signal("order-status-changed", doc="""\
An order moved from one state to another (sent by ``services.change_status``, the one way an
order changes state, after the flush). Sender: the ``Order``; keywords ``session``,
``from_status`` and ``to_status``. Volume and points follow payments and cancellations here.""")

order_refunded = orders_signals.signal("order-refunded", doc="""\
Money went back on an order, in full or by line, once the gateway confirmed it. Sender: the
``Order``; keywords ``session``, ``refund_id``, ``amount`` (Decimal money returned),
``pv`` and ``bv`` (Decimal volume that leaves with it) and ``at`` (UTC datetime).""")
