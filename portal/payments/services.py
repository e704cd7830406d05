"""The wallet: cards stored as gateway tokens."""

from __future__ import annotations

from datetime import date

from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal import default_choice
from portal.accounts.models import User
from portal.errors import DomainError
from portal.payments.gateway import PaymentGateway, SandboxGateway
from portal.payments.models import PaymentMethod
from portal.queues import get_redis


class CardUnusable(DomainError):
    pass


def gateway_for(app: Flask | None = None) -> PaymentGateway:
    app = app or current_app._get_current_object()
    name = app.config["PAYMENT_GATEWAY"]
    if name == "sandbox":
        return SandboxGateway(get_redis(app))
    raise RuntimeError(f"unknown payment gateway {name!r}")


# The wallet lists the default first, then the oldest; a removed default's successor is the
# oldest card left.
WALLET = default_choice.OwnedItems(PaymentMethod, order=(PaymentMethod.is_default.desc(),
                                                         PaymentMethod.id),
                                   not_found="That card is not in your wallet.")


def wallet(session: Session, user: User) -> list[PaymentMethod]:
    return WALLET.of(session, user)


def add_card(session: Session, *, user: User, gateway: PaymentGateway, number: str,
             exp_month: int, exp_year: int, cvc: str, cardholder: str, today: date,
             make_default: bool = False) -> PaymentMethod:
    """Tokenise a card and keep only the token, brand, last four and expiry."""
    token = gateway.tokenize(number, exp_month, exp_year, cvc, today=today)
    default_choice.lock_owner(session, user)
    first = not wallet(session, user)
    card = PaymentMethod(user_id=user.id, gateway=gateway.name, token=token.token,
                         brand=token.brand, last4=token.last4, exp_month=token.exp_month,
                         exp_year=token.exp_year, cardholder=cardholder.strip())
    session.add(card)
    session.flush()
    if make_default or first:
        set_default_card(session, user=user, card_id=card.id)
    return card


def owned_card(session: Session, user: User, card_id: int) -> PaymentMethod:
    return WALLET.owned(session, user, card_id)


def usable_card(session: Session, user: User, card_id: int, today: date) -> PaymentMethod:
    card = owned_card(session, user, card_id)
    if card.expired_on(today):
        raise CardUnusable(f"Your {card.label} expired {card.expiry}. Choose another card "
                           "or add a new one.")
    return card


def set_default_card(session: Session, *, user: User, card_id: int) -> PaymentMethod:
    return WALLET.choose_default(session, user, card_id)


def remove_card(session: Session, *, user: User, card_id: int) -> None:
    """Archive the card; if it was the default, the oldest card left takes over."""
    WALLET.remove(session, user, card_id)
