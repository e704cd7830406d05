"""Autoship: standing orders that become real orders on their schedule.

A member's changes: ``creation`` (new standing orders, the default schedule), ``items``,
``schedule_changes`` (schedule, next date, skips, preview), ``lifecycle`` (pause, resume,
cancel, name, delivery and payment), ``shipping_now`` and ``calendar_tokens``; what they share
(finding, locking, the cutoff, the history) is ``profiles``; ``queries`` reads. The engine:
``engine`` (a chunk's work), ``runs`` (starting a day's run, its chunks and attempts),
``notices`` (reminders, payment outcomes), ``volume`` (stored cycle PV), ``forecast``.
``reactions`` is how autoship reacts to what the catalog and orders announce.
"""

from portal.autoship.recurrence import Recurrence

__all__ = ["Recurrence"]
