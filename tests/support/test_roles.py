"""The support role: what it may do, written once in portal/roles.py."""

from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import Role, User
from portal.roles import refund_limit
from tests.conftest import log_in
from tests.factories import make_admin, make_support, make_user


def test_support_refunds_up_to_the_configured_limit_and_admins_without_one(app, session):
    config = {**app.config, "SUPPORT_REFUND_LIMIT": "75.50"}
    assert refund_limit(make_support(session), config) == Decimal("75.50")
    assert refund_limit(make_admin(session), config) is None
    assert refund_limit(make_user(session), config) == Decimal("0")


def test_the_database_knows_the_support_role_and_no_other_new_one(session):
    assert make_support(session).role == Role.SUPPORT
    with pytest.raises(IntegrityError):
        session.add(User(email="x@example.test", member_number="1", password_hash="x",
                         first_name="X", last_name="Y", role="superuser"))
        session.flush()
    session.rollback()


@pytest.mark.parametrize("path, where", [("/", "/admin/members"), ("/home", "/admin/members")])
def test_support_starts_at_the_member_search(client, session, path, where):
    log_in(client, make_support(session))
    assert client.get(path).headers["Location"] == where


def test_support_sees_the_members_menu_and_no_operations_menu(client, session):
    log_in(client, make_support(session))
    page = client.get("/admin/members").get_data(as_text=True)
    assert 'href="/admin/members"' in page
    assert 'href="/admin/products"' not in page and 'href="/admin/autoship/"' not in page
