"""1-Click settings: turning it on for a person on a browser (with one of their addresses and
cards, issuing the browser's identifier on first use) and off again, here, on one of their
browsers or everywhere."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import User
from portal.addresses.services import owned_address
from portal.errors import Forbidden, NotFound
from portal.oneclick.errors import ClientRevoked, OneClickError
from portal.oneclick.models import ClientIdentifier, OneClickSetting
from portal.oneclick.queries import client_by_hash
from portal.oneclick.rules import SHOPPER_ROLES
from portal.orders.services import order_for
from portal.payments.services import usable_card


def enable_oneclick(session: Session, *, user: User, token_hash: str, label: str, address_id: int,
                    card_id: int, today: date, now: datetime, keyboard_shortcut: bool | None = None,
                    voice_action: bool | None = None) -> OneClickSetting:
    """Turn on (or change) 1-Click for ``user`` on the browser whose token hashes to
    ``token_hash``, with one of their addresses and one of their usable cards. The browser's
    identifier is created on first use. Raises ClientRevoked for a revoked identifier: the
    caller gives the browser a new token. ``None`` for a preference keeps the current one."""
    if user.role not in SHOPPER_ROLES:
        raise Forbidden("Only members and IBOs can order with 1-Click.")
    address = owned_address(session, user, address_id)
    card = usable_card(session, user, card_id, today)
    client = _client_for_enabling(session, token_hash, label, now)
    setting = session.scalar(select(OneClickSetting).where(OneClickSetting.client_id == client.id,
                                                           OneClickSetting.user_id == user.id))
    if setting is None:
        setting = _insert_or_fetch(
            session, OneClickSetting(client_id=client.id, user_id=user.id, address_id=address.id,
                                     payment_method_id=card.id, enabled_at=now),
            select(OneClickSetting).where(OneClickSetting.client_id == client.id,
                                          OneClickSetting.user_id == user.id))
    if setting.disabled_at is not None:
        setting.disabled_at, setting.enabled_at = None, now
    setting.address_id, setting.payment_method_id = address.id, card.id
    if keyboard_shortcut is not None:
        setting.keyboard_shortcut = keyboard_shortcut
    if voice_action is not None:
        setting.voice_action = voice_action
    session.flush()
    return setting


def enable_from_order(session: Session, *, user: User, order_id: int, token_hash: str, label: str,
                      today: date, now: datetime) -> OneClickSetting:
    """Turn on 1-Click on this browser with the address and card of one of ``user``'s earlier
    orders: nothing to enter again."""
    order = order_for(session, user, order_id)
    if order.address_id is None or order.payment_method_id is None:
        raise OneClickError("That order's address or card is no longer stored. "
                            "Choose them in the 1-Click settings.")
    return enable_oneclick(session, user=user, token_hash=token_hash, label=label,
                           address_id=order.address_id, card_id=order.payment_method_id,
                           today=today, now=now)


def _client_for_enabling(session: Session, token_hash: str, label: str,
                         now: datetime) -> ClientIdentifier:
    client = client_by_hash(session, token_hash)
    if client is None:
        client = _insert_or_fetch(
            session, ClientIdentifier(token_hash=token_hash, label=label[:80], created_at=now),
            select(ClientIdentifier).where(ClientIdentifier.token_hash == token_hash))
    if client.revoked_at is not None:
        raise ClientRevoked()
    client.label = label[:80] or client.label
    return client


def _insert_or_fetch(session: Session, row, existing):
    """Insert ``row``; if a concurrent request inserted its twin first, return that one."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        twin = session.scalar(existing)
        if twin is None:
            raise
        return twin
    return row


def disable_here(session: Session, *, user: User, token_hash: str | None, now: datetime) -> bool:
    """Turn off ``user``'s 1-Click on this browser; whether it was on."""
    client = client_by_hash(session, token_hash)
    if client is None:
        return False
    return _disable(session, user, [client.id], now) > 0


def disable_on_client(session: Session, *, user: User, client_id: int, now: datetime) -> None:
    """Turn off ``user``'s 1-Click on one of their browsers (from the devices page)."""
    if _disable(session, user, [client_id], now) == 0:
        raise NotFound("1-Click is not on for you on that browser.")


def disable_everywhere(session: Session, *, user: User, now: datetime) -> int:
    """Turn off ``user``'s 1-Click on every browser; how many browsers that was."""
    client_ids = list(session.scalars(select(OneClickSetting.client_id).where(
        OneClickSetting.user_id == user.id, OneClickSetting.disabled_at.is_(None))))
    return _disable(session, user, client_ids, now)


def _disable(session: Session, user: User, client_ids: list[int], now: datetime) -> int:
    if not client_ids:
        return 0
    turned_off = session.execute(
        update(OneClickSetting)
        .where(OneClickSetting.user_id == user.id, OneClickSetting.client_id.in_(client_ids),
               OneClickSetting.disabled_at.is_(None))
        .values(disabled_at=now)
        .execution_options(synchronize_session="fetch")).rowcount
    # A browser nobody uses for 1-Click any more is revoked for good: a copy of its cookie
    # can never order again, and turning 1-Click on there later issues a new identifier.
    still_used = set(session.scalars(select(OneClickSetting.client_id).where(
        OneClickSetting.client_id.in_(client_ids), OneClickSetting.disabled_at.is_(None))))
    unused = [client_id for client_id in client_ids if client_id not in still_used]
    if unused:
        session.execute(update(ClientIdentifier)
                        .where(ClientIdentifier.id.in_(unused), ClientIdentifier.revoked_at.is_(None))
                        .values(revoked_at=now).execution_options(synchronize_session="fetch"))
    session.flush()
    return turned_off
