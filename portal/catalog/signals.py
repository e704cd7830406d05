"""What the catalog announces to the concepts that depend on it, so that it never imports them.

Signals are sent inside the unit of work of the change, after it is flushed; receivers run at
once, in the same transaction and with the same session: what they write commits or rolls back
with the change, and an error of theirs fails it. The receivers are connected by the reacting
concepts (their ``reactions.connect_signals``, called from ``create_app``)."""

from __future__ import annotations

from blinker import Namespace

catalog_signals = Namespace()

product_sale_changed = catalog_signals.signal("product-sale-changed", doc="""\
A product went on sale or was withdrawn. Sent with the ``Product`` as sender and the
``session`` of the change as keyword.""")
