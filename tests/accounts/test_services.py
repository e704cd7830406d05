"""Accounts: joining under a sponsor, logging in, changing the password (services, no HTTP)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.accounts.passwords import verify_password
from portal.accounts.services import (PasswordError, RegistrationError, authenticate,
                                      change_password, check_password_rules, register_user)
from tests.factories import PASSWORD, make_admin, make_ibo, make_user
from tests.races import write_twin

ARGON2_OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
NEW_PASSWORD = "a different passphrase"


def register(session, sponsor_number: str, **overrides) -> User:
    values = dict(email="new.person@example.test", password="plenty of letters",
                  first_name="  Nora ", last_name=" Newcomer ", sponsor_number=sponsor_number)
    values.update(overrides)
    return register_user(session, **values)


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("role", [Role.MEMBER, Role.IBO])
def test_a_new_person_joins_directly_below_the_sponsoring_ibo(session, role):
    sponsor = make_ibo(session)
    person = register(session, sponsor.member_number, role=role)

    assert person.role == role
    assert person.sponsor_id == sponsor.id
    assert person.depth == sponsor.depth + 1
    assert person.tree_path == f"{sponsor.tree_path}{person.id}/"
    assert person.first_name == "Nora" and person.last_name == "Newcomer"
    assert person.member_number.isdigit() and len(person.member_number) == 8
    assert person.active


def test_the_sponsor_number_may_carry_surrounding_spaces(session):
    sponsor = make_ibo(session)
    assert register(session, f"  {sponsor.member_number} ").sponsor_id == sponsor.id


def test_the_email_is_kept_in_lower_case(session):
    sponsor = make_ibo(session)
    person = register(session, sponsor.member_number, email="  Nora.NEW@Example.TEST ")
    assert person.email == "nora.new@example.test"


def test_the_password_is_kept_as_an_argon2id_hash_with_owasp_parameters(session):
    sponsor = make_ibo(session)
    person = register(session, sponsor.member_number, password="plenty of letters")
    assert person.password_hash.startswith(ARGON2_OWASP_PREFIX)
    assert "plenty of letters" not in person.password_hash
    assert verify_password(person.password_hash, "plenty of letters")


@pytest.mark.parametrize("sponsor_kind, message", [
    ("member", "only an IBO can sponsor"),
    ("unknown", "No active IBO has that member number"),
    ("inactive ibo", "No active IBO has that member number"),
    ("admin", "only an IBO can sponsor"),
])
def test_only_an_active_ibo_can_sponsor(session, sponsor_kind, message):
    if sponsor_kind == "member":
        number = make_user(session).member_number
    elif sponsor_kind == "inactive ibo":
        number = make_ibo(session, active=False).member_number
    elif sponsor_kind == "admin":
        number = make_admin(session).member_number
    else:
        number = "99999999"
    before = user_count(session)

    with pytest.raises(RegistrationError, match=message) as refused:
        register(session, number)

    assert refused.value.field == "sponsor"
    assert user_count(session) == before


@pytest.mark.parametrize("existing", ["nora@example.test", "Nora@Example.Test"])
@pytest.mark.parametrize("attempt", ["nora@example.test", "NORA@EXAMPLE.TEST", " Nora@example.test "])
def test_an_email_already_in_use_is_refused_whatever_its_case(session, existing, attempt):
    sponsor = make_ibo(session)
    make_user(session, email=existing)
    before = user_count(session)

    with pytest.raises(RegistrationError, match="already exists") as refused:
        register(session, sponsor.member_number, email=attempt)

    assert refused.value.field == "email"
    assert user_count(session) == before


@pytest.mark.parametrize("password, message", [
    ("short", "at least 10 characters"),
    ("aaaaaaaaaaaa", "too easy to guess"),
    ("abababababab", "too easy to guess"),
    ("          ", "too easy to guess"),
    ("x" * 257, "at most 256 characters"),
])
def test_a_weak_password_is_refused(session, password, message):
    sponsor = make_ibo(session)
    with pytest.raises(PasswordError, match=message) as refused:
        register(session, sponsor.member_number, password=password)
    assert refused.value.field == "password"
    assert user_count(session) == 2  # the sponsor and the sponsor's own root


@pytest.mark.parametrize("password", ["abcdefghij", "x" * 250 + "abcdef", "pässwörter!"])
def test_acceptable_passwords(password):
    check_password_rules(password)  # raises when refused


def test_nobody_registers_as_an_admin(session):
    sponsor = make_ibo(session)
    with pytest.raises(RegistrationError) as refused:
        register(session, sponsor.member_number, role=Role.ADMIN)
    assert refused.value.field == "role"


def test_authenticate_finds_the_person_whatever_the_case_of_the_email(session):
    person = make_user(session, email="pat@example.test")
    assert authenticate(session, "  PAT@Example.test", PASSWORD) is person


@pytest.mark.parametrize("email, password", [
    ("pat@example.test", "wrong password here"),
    ("nobody@example.test", PASSWORD),
    ("pat@example.test", ""),
])
def test_authenticate_refuses_wrong_credentials(session, email, password):
    make_user(session, email="pat@example.test")
    assert authenticate(session, email, password) is None


def argon2_parameters(password_hash: str) -> str:
    return password_hash.rsplit("$", 2)[0]  # "$argon2id$v=19$m=...,t=...,p=..."


@pytest.mark.parametrize("email", ["nobody@example.test", "pat@example.test", "off@example.test"])
def test_every_failed_login_costs_one_argon2_verification_with_the_same_parameters(session,
                                                                                   monkeypatch, email):
    """Unknown, known and inactive accounts do the same work, so timing does not tell them apart."""
    from portal.accounts import services
    make_user(session, email="pat@example.test")
    make_user(session, email="off@example.test", active=False)
    verified: list[str] = []
    real = services.verify_password
    monkeypatch.setattr(services, "verify_password",
                        lambda password_hash, password: verified.append(password_hash)
                        or real(password_hash, password))

    assert authenticate(session, email, "not the password") is None

    assert [argon2_parameters(h) for h in verified] == [ARGON2_OWASP_PREFIX.rstrip("$")]


def test_a_failed_login_takes_as_long_for_an_unknown_email_as_for_a_wrong_password(session):
    import statistics
    import time
    make_user(session, email="pat@example.test")

    # CPU time of this thread, interleaved: a busy machine stretches wall-clock time of
    # whichever call it happens to preempt, but not the work the call itself does.
    samples = {"nobody@example.test": [], "pat@example.test": []}
    for _ in range(9):
        for email, times in samples.items():
            start = time.thread_time()
            authenticate(session, email, "not the password")
            times.append(time.thread_time() - start)
    unknown, wrong = (statistics.median(times) for times in samples.values())

    assert 0.5 < unknown / wrong < 2.0  # one Argon2 verification each


def test_an_inactive_person_cannot_authenticate(session):
    make_user(session, email="pat@example.test", active=False)
    assert authenticate(session, "pat@example.test", PASSWORD) is None


def test_a_hash_with_weaker_parameters_is_upgraded_when_the_person_logs_in(session):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    person = make_user(session, password_hash=weak)

    assert authenticate(session, person.email, PASSWORD) is person

    assert person.password_hash != weak
    assert person.password_hash.startswith(ARGON2_OWASP_PREFIX)
    assert verify_password(person.password_hash, PASSWORD)


def test_a_current_hash_is_left_alone_on_login(session):
    person = make_user(session)
    before = person.password_hash
    authenticate(session, person.email, PASSWORD)
    assert person.password_hash == before


def test_changing_the_password_starts_a_new_session_generation(session):
    person = make_user(session)
    generation, changed_at = person.session_generation, person.password_changed_at

    change_password(session, user=person, current=PASSWORD, new=NEW_PASSWORD)

    assert person.session_generation == generation + 1
    assert person.password_changed_at >= changed_at
    assert person.password_hash.startswith(ARGON2_OWASP_PREFIX)
    assert verify_password(person.password_hash, NEW_PASSWORD)
    assert not verify_password(person.password_hash, PASSWORD)
    assert person.get_id() == f"{person.id}:{generation + 1}"


@pytest.mark.parametrize("current, new, field, message", [
    ("not my password", NEW_PASSWORD, "current", "current password is not right"),
    (PASSWORD, PASSWORD, "new", "different from the current one"),
    (PASSWORD, "short", "new", "at least 10 characters"),
    (PASSWORD, "zzzzzzzzzzzz", "new", "too easy to guess"),
])
def test_a_password_change_is_refused(session, current, new, field, message):
    person = make_user(session)
    before = person.password_hash

    with pytest.raises(PasswordError, match=message) as refused:
        change_password(session, user=person, current=current, new=new)

    assert refused.value.field == field
    assert person.password_hash == before
    assert person.session_generation == 0


@pytest.mark.server
@pytest.mark.parametrize("twin", ["nora@example.test", "Nora@Example.TEST"])
def test_a_registration_racing_another_for_the_same_email_is_refused_not_a_crash(
        session, monkeypatch, twin):
    """The twin account arrives after this registration checked the address and before it
    inserts (see tests.races.write_twin): the unique index on lower(email) refuses the insert,
    in whatever case the twin was stored, and the person gets the usual message."""
    from portal.accounts import services

    sponsor_number = make_ibo(session).member_number
    session.commit()
    choose_number = services.new_member_number

    def twin_arrives_first(racing_session):
        write_twin(racing_session, User.__table__, email=twin, password_hash="x",
                   first_name="Twin", last_name="T", role=Role.MEMBER, member_number="19999999")
        return choose_number(racing_session)

    monkeypatch.setattr(services, "new_member_number", twin_arrives_first)
    with pytest.raises(RegistrationError, match="already exists") as refused:
        register(session, sponsor_number, email=" NORA@example.test")

    assert refused.value.field == "email"
    assert session.scalars(select(User.email).where(func.lower(User.email) == "nora@example.test")
                           ).all() == [twin]
