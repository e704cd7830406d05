"""The address book."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import default_choice
from portal.accounts.audit import acts_for_another, record_for_member
from portal.accounts.models import User
from portal.addresses.models import Address
from portal.errors import DomainError

ADDRESS_FIELDS = ("moniker", "full_name", "line1", "line2", "city", "region", "postal_code",
                  "country", "phone")


class AddressError(DomainError):
    pass


# A US ZIP code is five digits, or ZIP+4 written 12345-6789. Other countries' codes keep the
# form's loose shape check only: their formats are many, and a carrier checks them anyway.
US_ZIP = re.compile(r"\d{5}(-\d{4})?")


def check_postal_code(country: str, postal_code: str) -> None:
    """Refuse a postal code that cannot exist in ``country`` (a two-letter code)."""
    if country == "US" and not US_ZIP.fullmatch(postal_code):
        raise AddressError("A US ZIP code is 5 digits, or ZIP+4 like 62704-1234.", "postal_code")


# The book lists the default first, then by name; a removed default's successor is the first left.
BOOK = default_choice.OwnedItems(Address, order=(Address.is_default.desc(), Address.moniker),
                                 not_found="That address is not in your address book.")


def address_book(session: Session, user: User) -> list[Address]:
    return BOOK.of(session, user)


def owned_address(session: Session, user: User, address_id: int) -> Address:
    return BOOK.owned(session, user, address_id)


def _check_moniker_free(session: Session, user: User, moniker: str, except_id: int | None) -> None:
    # Compared in Python with casefold(), which folds more than the database's lower() (the
    # German sharp s, for one), and a person has a handful of addresses. The index on (user_id, lower(moniker)) backs this check up
    # under concurrency, see _moniker_guarded.
    taken = session.scalars(select(Address.moniker).where(
        Address.user_id == user.id, Address.archived_at.is_(None),
        Address.id != (except_id or 0)))
    if moniker.casefold() in {name.casefold() for name in taken}:
        raise AddressError(f'You already have an address called "{moniker}". '
                           "Choose another name for this one.", "moniker")


@contextmanager
def _moniker_guarded(session: Session, user: User, moniker: str,
                     except_id: int | None) -> Iterator[None]:
    """Writes the address in a savepoint. A concurrent request may have saved the same moniker
    after _check_moniker_free looked: the unique index refuses this write, and the person
    gets the check's message rather than a crash."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError:
        _check_moniker_free(session, user, moniker, except_id)
        raise  # not the moniker: not something the person typed


def _audit(session: Session, actor: User | None, user: User, action: str, address: Address,
           before: str = "", after: str = "") -> None:
    """Staff changing the member's address book: an audit entry (portal.accounts.audit)."""
    if acts_for_another(actor, user.id):
        record_for_member(session, actor=actor, member_id=user.id, area="addresses",
                          subject=f"address “{address.moniker}”", action=action,
                          before=before, after=after)


def _in_words(address: Address) -> str:
    return f"{address.moniker}: {address.full_name}, {address.one_line}" \
        + (f", phone {address.phone}" if address.phone else "")


def add_address(session: Session, *, user: User, actor: User | None = None,
                make_default: bool = False, **fields) -> Address:
    values = {name: (fields.get(name) or "").strip() for name in ADDRESS_FIELDS}
    values["country"] = (values["country"] or "US").upper()
    check_postal_code(values["country"], values["postal_code"])
    default_choice.lock_owner(session, user)
    _check_moniker_free(session, user, values["moniker"], None)
    first = not address_book(session, user)
    address = Address(user_id=user.id, **values)
    with _moniker_guarded(session, user, values["moniker"], None):
        session.add(address)
        session.flush()
    if make_default or first:
        set_default_address(session, user=user, address_id=address.id)
    _audit(session, actor, user, "address added", address, after=_in_words(address))
    return address


def update_address(session: Session, *, user: User, actor: User | None = None, address_id: int,
                   **fields) -> Address:
    default_choice.lock_owner(session, user)
    address = owned_address(session, user, address_id)
    before = _in_words(address)
    values = {name: (fields.get(name) or "").strip() for name in ADDRESS_FIELDS}
    values["country"] = (values["country"] or "US").upper()
    check_postal_code(values["country"], values["postal_code"])
    _check_moniker_free(session, user, values["moniker"], address.id)
    with _moniker_guarded(session, user, values["moniker"], address.id):
        for name, value in values.items():
            setattr(address, name, value)
        session.flush()
    _audit(session, actor, user, "address changed", address, before=before, after=_in_words(address))
    return address


def set_default_address(session: Session, *, user: User, actor: User | None = None,
                        address_id: int) -> Address:
    address = BOOK.choose_default(session, user, address_id)
    _audit(session, actor, user, "made the default address", address, after=_in_words(address))
    return address


def remove_address(session: Session, *, user: User, actor: User | None = None,
                   address_id: int) -> None:
    """Archive the address; if it was the default, the first left in the book takes over."""
    address = owned_address(session, user, address_id)
    before = _in_words(address)
    BOOK.remove(session, user, address_id)
    _audit(session, actor, user, "address removed", address, before=before)
