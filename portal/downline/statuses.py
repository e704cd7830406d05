"""A person's autoship status as the team pages show it.

A person may hold several standing orders; their row shows the "best" status among them, in the
order active > payment failed > needs a new schedule (set aside by the engine) > paused >
cancelled, and "none" when they hold no standing order at all. The ranking is written once here,
as a Python order and as the SQL expression every team statement ranks with.

Every team row shows its person the same way (``TeamPerson``): the name, and the status's label.

Beside it, the other value of a standing order every team page reads: its stored cycle PV
(``portal.autoship.volume``), which sits with the status in ``ix_autoship_profiles_user_id_status``
so that neither needs an item read.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from portal.autoship import expected_volume
from portal.autoship.models import AutoshipProfile

STATUSES = ("active", "paused", "payment_failed", "unplannable", "cancelled", "none")
STATUS_LABELS = {"active": "Active", "paused": "Paused", "payment_failed": "Payment failed",
                 "unplannable": "Needs a new schedule", "cancelled": "Cancelled",
                 "none": "No autoship"}
RANKED = ("active", "payment_failed", "unplannable", "paused", "cancelled")  # best first


def status_rank(profile):
    """The rank of ``profile``'s status in ``RANKED``, from 1 (best), as SQL."""
    return case(*((profile.status == s, n) for n, s in enumerate(RANKED, 1)))


def best_status_rank(person):
    """The rank of ``person``'s best status, as a sub-query correlated on ``person`` (NULL when
    they hold no standing order)."""
    profile = aliased(AutoshipProfile)
    return (select(func.min(status_rank(profile)))
            .where(profile.user_id == person.id).correlate(person).scalar_subquery())


def status_of_rank(rank: int | None) -> str:
    """The status a rank stands for; "none" for no rank."""
    return RANKED[rank - 1] if rank else "none"


stored_pv = expected_volume.stored_pv  # the one definition, shared with the volume projection


class TeamPerson:
    """What a team row shows of its person, read from the row's ``first_name``, ``last_name``
    and ``status``: a base of the team pages' row dataclasses."""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]
