"""Accounts: registration under a sponsor, authentication, password changes."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.login_sessions import end_every_login_session
from portal.accounts.models import Role, User
from portal.accounts.passwords import (DUMMY_HASH, MAX_LENGTH, MIN_LENGTH, hash_password,
                                       needs_rehash, verify_password)
from portal.clock import utcnow
from portal.errors import DomainError
from portal.genealogy.services import place_in_tree


class RegistrationError(DomainError):
    pass


class PasswordError(DomainError):
    pass


EMAIL_TAKEN = ("An account with that email already exists. Log in instead, or reset your "
               "password.")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _email_taken(session: Session, email: str) -> bool:
    """Whether an account has this (normalised) address in any case, as uq_users_lower_email
    compares them."""
    return session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"Use at least {MIN_LENGTH} characters.", field)
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"Use at most {MAX_LENGTH} characters.", field)
    if password.strip() == "" or len(set(password)) < 4:
        raise PasswordError("That password is too easy to guess.", field)


def find_sponsor(session: Session, member_number: str) -> User:
    sponsor = session.scalar(select(User).where(User.member_number == member_number.strip()))
    if sponsor is None or not sponsor.active:
        raise RegistrationError("No active IBO has that member number.", "sponsor")
    if sponsor.role != Role.IBO:
        raise RegistrationError("That member number belongs to a customer; "
                                "only an IBO can sponsor new people.", "sponsor")
    return sponsor


def new_member_number(session: Session) -> str:
    while True:
        number = f"{secrets.randbelow(90_000_000) + 10_000_000}"
        if session.scalar(select(User.id).where(User.member_number == number)) is None:
            return number


def register_user(session: Session, *, email: str, password: str, first_name: str,
                  last_name: str, sponsor_number: str, role: str = Role.MEMBER) -> User:
    """Create a member or IBO under the IBO with ``sponsor_number``; raises RegistrationError."""
    if role not in (Role.MEMBER, Role.IBO):
        raise RegistrationError("Choose to join as a customer or as an IBO.", "role")
    email = normalise_email(email)
    check_password_rules(password)
    sponsor = find_sponsor(session, sponsor_number)
    # Last, so that only a complete, valid form learns that an address is taken.
    if _email_taken(session, email):
        raise RegistrationError(EMAIL_TAKEN, "email")
    user = User(email=email, password_hash=hash_password(password),
                first_name=first_name.strip(), last_name=last_name.strip(), role=role,
                member_number=new_member_number(session))
    try:
        with session.begin_nested():
            session.add(user)
            place_in_tree(session, user, sponsor)
    except IntegrityError:
        # A concurrent registration of the address, in any case, committed between the check
        # and here (uq_users_lower_email); any other violation is not the person's doing.
        if not _email_taken(session, email):
            raise
        raise RegistrationError(EMAIL_TAKEN, "email") from None
    return user


def create_admin(session: Session, *, email: str, password: str, first_name: str,
                 last_name: str, role: str = Role.ADMIN) -> User:
    """A staff account (an admin, or with ``role`` support), outside the sponsor tree."""
    if role not in (Role.ADMIN, Role.SUPPORT):
        raise ValueError(f"not a staff role: {role}")
    check_password_rules(password)
    user = User(email=normalise_email(email), password_hash=hash_password(password),
                first_name=first_name, last_name=last_name, role=role,
                member_number=new_member_number(session), tree_path=None, depth=0)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with these credentials, or None. Takes as long for an unknown email."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        verify_password(DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def log_out_everywhere(session: Session, *, user: User) -> None:
    """End every session of this user, on every device, "keep me logged in" ones included."""
    end_every_login_session(session, user=user)


def change_password(session: Session, *, user: User, current: str, new: str) -> None:
    """Changing the password ends every session of this user (the web layer then starts a new
    one for the browser that changed it)."""
    if not verify_password(user.password_hash, current):
        raise PasswordError("Your current password is not right.", "current")
    if current == new:
        raise PasswordError("Choose a password different from the current one.", "new")
    check_password_rules(new, "new")
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_every_login_session(session, user=user)
