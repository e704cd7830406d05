"""One person of a downline as their upline sees them: every standing order they hold, with
its items, schedule, volume, status and history, but never the card beyond its status and
never the street."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import User
from portal.addresses.models import Address
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile, ProfileStatus
from portal.autoship.queries import ProfileSummary, history, summarize
from portal.orders.rules import line_amount, unit_amount
from portal.payments.models import PaymentMethod


@dataclass(frozen=True)
class ItemView:
    product_name: str
    sku: str
    unit_code: str
    unit_label: str | None  # None: the unit is no longer in the catalog
    quantity: int
    eaches: int | None
    pv: Decimal | None  # of the whole line, by the standing order's price policy


@dataclass(frozen=True)
class ProfileView:
    profile: AutoshipProfile
    summary: ProfileSummary
    items: list[ItemView]
    card_status: str
    card_ok: bool
    city: str
    region: str
    events: list[AutoshipEvent]


def person_profiles(session: Session, person: User, *, today: date, rules, shipping) -> list[ProfileView]:
    """Every standing order of ``person`` with what an upline may see of it: never the card
    beyond its status, never the street."""
    profiles = list(session.scalars(
        select(AutoshipProfile).where(AutoshipProfile.user_id == person.id)
        .options(selectinload(AutoshipProfile.items), selectinload(AutoshipProfile.skips))
        .order_by(AutoshipProfile.status == ProfileStatus.CANCELLED, AutoshipProfile.next_run_date,
                  AutoshipProfile.id)))
    views = []
    for profile in profiles:
        card = session.get(PaymentMethod, profile.payment_method_id)
        address = session.get(Address, profile.address_id)
        card_status, card_ok = describe_card(card, profile, today)
        views.append(ProfileView(profile=profile, summary=summarize(profile, today, rules, shipping),
                                 items=[_item_view(profile, item) for item in profile.items],
                                 card_status=card_status, card_ok=card_ok,
                                 city=address.city if address else "",
                                 region=address.region if address else "",
                                 events=history(session, profile, limit=20)))
    return views


def _item_view(profile: AutoshipProfile, item: AutoshipItem) -> ItemView:
    product = item.product
    unit = product.unit(item.unit_code)
    return ItemView(
        product_name=product.name, sku=product.sku, unit_code=item.unit_code,
        unit_label=unit.label if unit else None, quantity=item.quantity,
        eaches=item.quantity * unit.eaches_per_unit if unit else None,
        pv=line_amount(unit_amount(profile.price_policy, item.locked_pv, unit.pv), item.quantity)
        if unit else None)


def sponsor_of(session: Session, person: User) -> User | None:
    return session.get(User, person.sponsor_id) if person.sponsor_id else None


def describe_card(card: PaymentMethod | None, profile: AutoshipProfile, today: date) -> tuple[str, bool]:
    """The card's status in words, without brand, digits or expiry."""
    if card is None or card.archived_at is not None:
        return "No card on file", False
    if card.expired_on(today):
        return "Card on file has expired", False
    if profile.status == ProfileStatus.ACTIVE and profile.next_run_date is not None \
            and card.expired_on(profile.next_run_date):
        return "Card on file expires before the next run", False
    return "Card on file, valid for the next run", True
