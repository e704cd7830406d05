"""An admin replaces a product (usually one being withdrawn) by another, in a chosen unit, in
every standing order that holds it: counted first, then run as a job in chunks.

Each chunk locks its standing orders (``FOR UPDATE``, so members' own changes wait their turn),
applies the swap rules of ``portal.retention.swaps`` (the quantity is kept, the item merged
with one of the same product and unit) and writes the items, the swaps, the history and the
members' notices in a handful of statements, then the job commits it: progress shows as chunks
commit. A standing order that cannot take the change (its next shipment is already being
prepared, a merged quantity over the limit) is set aside with the reason and the batch goes
on. A retried job picks up where it stopped: a standing order already swapped or set aside by
this replacement is never touched again (``autoship_swaps`` is unique per replacement and
profile)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

from portal import formatting
from portal.accounts.models import User
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile, ProfileStatus
from portal.autoship.profiles import AutoshipError, AutoshipRules, changes_closed, days_until_cutoff
from portal.autoship.volume import refresh_cycle_pv
from portal.catalog.models import Product, unit_count
from portal.clock import utcnow
from portal.errors import NotFound
from portal.mail.services import queue_mails
from portal.queues import enqueue_after_commit
from portal.retention.models import Replacement, ReplacementSetAside, ReplacementStatus, Swap
from portal.retention.swaps import move_item, swap_words


class ReplacementRefused(AutoshipError):
    pass


@dataclass(frozen=True)
class Affected:
    profiles: int
    members: int


def holding(product_id: int):
    """The standing orders that hold ``product_id`` and may ship again (every status but
    cancelled), as a select of their ids."""
    return (select(AutoshipItem.profile_id)
            .join(AutoshipProfile, AutoshipProfile.id == AutoshipItem.profile_id)
            .where(AutoshipItem.product_id == product_id,
                   AutoshipProfile.status != ProfileStatus.CANCELLED))


def count_affected(session: Session, product_id: int) -> Affected:
    """How many standing orders, and of how many members, a replacement of the product changes."""
    ids = holding(product_id).distinct().subquery()
    profiles, members = session.execute(
        select(func.count(), func.count(AutoshipProfile.user_id.distinct()))
        .select_from(AutoshipProfile).where(AutoshipProfile.id.in_(select(ids.c.profile_id)))).one()
    return Affected(profiles, members)


@dataclass(frozen=True)
class ReplacementChoice:
    product: Product
    replacement: Product
    unit_code: str


def check_choice(session: Session, product_id: int | None, replacement_id: int | None,
                 unit_code: str) -> ReplacementChoice:
    """The product, its replacement and the unit, refused beside the field at fault: the
    replacement must be another product on sale, sold in that unit."""
    product = session.get(Product, product_id) if product_id else None
    if product is None:
        raise ReplacementRefused("Choose the product to replace.", "product_id")
    replacement = session.get(Product, replacement_id) if replacement_id else None
    if replacement is None:
        raise ReplacementRefused("Choose the product that replaces it.", "replacement_id")
    if replacement.id == product.id:
        raise ReplacementRefused("Choose another product than the one replaced.", "replacement_id")
    if not replacement.active:
        raise ReplacementRefused(f"{replacement.name} is not on sale: choose a product on sale.",
                                 "replacement_id")
    if replacement.unit(unit_code) is None:
        offered = ", ".join(u.label.lower() for u in replacement.sellable_units)
        raise ReplacementRefused(f"{replacement.name} is not sold in that unit (available: {offered}).",
                                 "unit_code")
    return ReplacementChoice(product, replacement, unit_code)


def start_replacement(session: Session, *, admin: User, choice: ReplacementChoice, key: str) -> Replacement:
    """Record the replacement with its counts and enqueue its job after the commit. The same
    ``key`` again (the confirmation sent twice) answers with the first, starting nothing."""
    earlier = session.scalar(select(Replacement).where(Replacement.key == key))
    if earlier is not None:
        return earlier
    affected = count_affected(session, choice.product.id)
    if affected.profiles == 0:
        raise ReplacementRefused(f"No standing order holds {choice.product.name}: nothing to replace.",
                                 "product_id")
    replacement = Replacement(key=key, product_id=choice.product.id,
                              replacement_product_id=choice.replacement.id, unit_code=choice.unit_code,
                              profiles_total=affected.profiles, members_total=affected.members,
                              created_by=admin.id)
    session.add(replacement)
    session.flush()
    enqueue_replacement(session, replacement.id)
    return replacement


def enqueue_replacement(session: Session, replacement_id: int) -> None:
    enqueue_after_commit(session, "jobs.retention.replace_product", replacement_id,
                         job_id=f"replacement-{replacement_id}", job_timeout=3600)


def replacement_of(session: Session, replacement_id: int) -> Replacement:
    found = session.get(Replacement, replacement_id)
    if found is None:
        raise NotFound("No such replacement.")
    return found


@dataclass
class Notice:
    user_id: int
    profile: AutoshipProfile
    words: str


def run_replacement(session: Session, replacement_id: int, *, today: date, rules: AutoshipRules,
                    base_url: str, chunk_size: int, after_chunk: Callable[[], None]) -> Replacement:
    """Every standing order still holding the product, a chunk at a time; ``after_chunk`` (the
    job's commit) runs after each, so that progress is durable and visible."""
    replacement = replacement_of(session, replacement_id)
    if replacement.status == ReplacementStatus.DONE:
        return replacement
    replacement.status, replacement.error = ReplacementStatus.RUNNING, ""
    after_chunk()
    product = session.get(Product, replacement.product_id)
    target = session.get(Product, replacement.replacement_product_id)
    while True:
        chunk = _next_chunk(session, replacement, chunk_size)
        if not chunk:
            break
        replaced, set_aside = _replace_chunk(session, replacement, chunk, product, target,
                                             today=today, rules=rules, base_url=base_url)
        replacement.replaced += replaced
        replacement.set_aside += set_aside
        session.flush()
        after_chunk()
    replacement.status, replacement.finished_at = ReplacementStatus.DONE, utcnow()
    session.flush()
    return replacement


def _next_chunk(session: Session, replacement: Replacement, size: int) -> list[AutoshipProfile]:
    swapped = exists().where(Swap.replacement_id == replacement.id, Swap.profile_id == AutoshipProfile.id)
    aside = exists().where(ReplacementSetAside.replacement_id == replacement.id,
                           ReplacementSetAside.profile_id == AutoshipProfile.id)
    ids = (holding(replacement.product_id).where(~swapped, ~aside).distinct()
           .order_by(AutoshipItem.profile_id).limit(size))
    return list(session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.id.in_(ids)).order_by(AutoshipProfile.id)
        .options(selectinload(AutoshipProfile.items)).with_for_update(of=AutoshipProfile)
        .execution_options(populate_existing=True)))


def _replace_chunk(session: Session, replacement: Replacement, chunk: list[AutoshipProfile],
                   product: Product, target: Product, *, today: date, rules: AutoshipRules,
                   base_url: str) -> tuple[int, int]:
    """Apply the replacement to each standing order of the chunk in memory (one that refuses is
    set aside, the others go on), then write them all in one flush and a few inserts."""
    swaps, notices, set_asides = [], [], []
    for profile in chunk:
        reason = _refusal(profile, replacement, product, target, today, rules)
        if reason:
            set_asides.append(ReplacementSetAside(replacement_id=replacement.id, profile_id=profile.id,
                                                  reason=reason[:300]))
            continue
        held = [i for i in profile.items if i.product_id == product.id]
        words = "; ".join(swap_words(product, i.unit_code, i.quantity, target, replacement.unit_code,
                                     i.quantity) for i in held)
        first = held[0]
        swaps.append(Swap(profile_id=profile.id, replacement_id=replacement.id,
                          from_product_id=product.id, from_unit=first.unit_code,
                          from_quantity=first.quantity, to_product_id=target.id,
                          to_unit=replacement.unit_code, to_quantity=first.quantity, words=words[:500]))
        for item in held:
            move_item(profile, item, target, replacement.unit_code, item.quantity, rules)
        notices.append(Notice(profile.user_id, profile, words))
    session.add_all(swaps + set_asides)
    session.add_all(AutoshipEvent(profile_id=n.profile.id, actor_id=replacement.created_by,
                                  action="item replaced", details=f"{n.words} ({product.name} is "
                                  "no longer sold)"[:2000]) for n in notices)
    session.flush()
    if notices:
        refresh_cycle_pv(session, profile_ids=[n.profile.id for n in notices])
        _tell_members(session, notices, product, base_url)
    return len(notices), len(set_asides)


def _refusal(profile: AutoshipProfile, replacement: Replacement, product: Product, target: Product,
             today: date, rules: AutoshipRules) -> str | None:
    """Why this standing order cannot take the replacement now, or None. Checked before anything
    of it changes, so that a refused one is left exactly as it was."""
    if changes_closed(days_until_cutoff(profile, today, rules)):
        return (f"Its next shipment on {formatting.day(profile.next_run_date, 'day_of_month')} is "
                "being prepared (edit cutoff): run the replacement again after it ships.")
    held = [i for i in profile.items if i.product_id == product.id]
    twin = next((i for i in profile.items if i.product_id == target.id
                 and i.unit_code == replacement.unit_code), None)
    total = sum(i.quantity for i in held) + (twin.quantity if twin else 0)
    if total > rules.max_quantity:
        return (f"It would hold {unit_count(total, replacement.unit_code)} of {target.name}, more than "
                f"the {rules.max_quantity} a line may hold.")
    if not target.active or target.unit(replacement.unit_code) is None:
        return f"{target.name} is no longer sold in that unit."
    return None


def _tell_members(session: Session, notices: list[Notice], product: Product, base_url: str) -> None:
    people = {user_id: (email, first_name) for user_id, email, first_name in session.execute(
        select(User.id, User.email, User.first_name).where(User.id.in_({n.user_id for n in notices})))}
    base = base_url.rstrip("/")
    queue_mails(session, [{
        "user_id": n.user_id, "recipient": people[n.user_id][0],
        "subject": f"{product.name} is replaced in your standing order",
        "body": (f"Hello {people[n.user_id][1]},\n\n{product.name} is no longer sold, so your standing order "
                 f"“{n.profile.name}” now ships: {n.words}.\n"
                 + (f"Next shipment: {formatting.day(n.profile.next_run_date, 'long_short')}.\n"
                    if n.profile.status == ProfileStatus.ACTIVE and n.profile.next_run_date else "")
                 + f"\nTo choose something else, swap it or change the quantity at {base}/autoship/{n.profile.id}\n")}
        for n in notices])
