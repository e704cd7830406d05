"""Acting for a member: staff use the member's own pages with the member's own rules; every
change is theirs, for the member, in the history and the audit log; the member is told of
changes to their standing orders; nothing else opens."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import AuditEntry, LoginSession
from portal.addresses.models import Address
from portal.autoship.models import AutoshipEvent, AutoshipItem, AutoshipProfile
from portal.cart.models import CartLine
from portal.clock import company_today
from portal.mail.models import OutboxMessage
from tests.conftest import log_in, page_text, post_form
from tests.factories import make_support
from tests.world import build_world


@pytest.fixture
def world(session, redis):
    return build_world(session, redis)


def acting_client(client, world, staff, member):
    log_in(client, staff)
    response = post_form(client, f"/admin/members/{member.member_number}/act", page="/admin/members")
    assert response.status_code == 303 and response.headers["Location"].endswith("/autoship/")
    return client


def entries(session, **where):
    session.expire_all()
    return list(session.scalars(select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)))


@pytest.mark.parametrize("staff", ["support", "admin"])
def test_staff_act_for_a_member_on_the_members_own_pages_with_a_banner(client, session, world, staff):
    acting_client(client, world, getattr(world, staff), world.owner)
    page = client.get("/autoship/").get_data(as_text=True)
    assert "You are acting for <strong>Olive Owner</strong>" in page
    assert "Monthly essentials" in page
    assert "Stop acting for Olive" in page
    assert "calendar link" not in page_text(page).lower()  # the member's secret link is theirs
    assert [e.action for e in entries(session, member_id=world.owner.id)] == \
        ["started acting for the member"]


def test_a_change_made_for_the_member_is_recorded_as_by_the_staff_for_the_member(client, session, world):
    things = world.of(world.owner)
    acting_client(client, world, world.support, world.owner)
    response = post_form(client, f"/autoship/{things.profile.id}/items/{things.item.id}",
                         {"unit": "each", "quantity": 3}, page=f"/autoship/{things.profile.id}")
    assert response.status_code == 303
    session.expire_all()
    assert session.get(AutoshipItem, things.item.id).quantity == 3
    event = session.scalars(select(AutoshipEvent).where(AutoshipEvent.profile_id == things.profile.id)
                            .order_by(AutoshipEvent.id.desc())).first()
    assert (event.action, event.actor_id) == ("item changed", world.support.id)
    history = client.get(f"/autoship/{things.profile.id}").get_data(as_text=True)
    assert "by Sam Support for Olive Owner" in history
    entry = entries(session, member_id=world.owner.id, area="autoship")[-1]
    assert (entry.actor_id, entry.action) == (world.support.id, "item changed")
    assert f"6 × {world.product.sku} (each)" in entry.before
    assert f"3 × {world.product.sku} (each)" in entry.after
    assert "4242" in entry.before and "4242424242424242" not in entry.before + entry.after
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == world.owner.id)
                           .order_by(OutboxMessage.id.desc())).first()
    assert mail.subject == "Your standing order “Monthly essentials” was changed"
    assert "Sam Support of our support team" in mail.body and "item changed" in mail.body


def test_the_members_edit_rules_hold_for_staff_too(client, session, world):
    """Inside the edit cutoff the change is refused, as it would be for the member."""
    things = world.of(world.owner)
    session.get(AutoshipProfile, things.profile.id).next_run_date = company_today() + timedelta(days=1)
    session.commit()
    acting_client(client, world, world.support, world.owner)
    response = post_form(client, f"/autoship/{things.profile.id}/items/{things.item.id}",
                         {"unit": "each", "quantity": 3}, page=f"/autoship/{things.profile.id}")
    assert response.status_code == 422
    assert "being prepared" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(AutoshipItem, things.item.id).quantity == 6
    assert entries(session, area="autoship") == []


def test_acting_reaches_no_other_member(client, session, world):
    theirs = world.of(world.other)
    acting_client(client, world, world.support, world.owner)
    assert client.get(f"/autoship/{theirs.profile.id}").status_code == 404
    response = post_form(client, f"/autoship/{theirs.profile.id}/items/{theirs.item.id}",
                         {"unit": "each", "quantity": 3}, page="/autoship/")
    assert response.status_code == 404
    assert post_form(client, f"/addresses/{theirs.address.id}/remove", page="/addresses/").status_code == 404
    assert post_form(client, f"/cart/lines/{theirs.cart_line.id}/remove", page="/cart/").status_code == 404
    session.expire_all()
    assert session.get(AutoshipItem, theirs.item.id).quantity == 6
    assert session.get(CartLine, theirs.cart_line.id) is not None
    assert entries(session, member_id=world.other.id) == []


@pytest.mark.parametrize("path", ["/wallet/", "/wallet/new", "/checkout/", "/orders/", "/1-click/settings",
                                  "/home", "/team/autoships"])
def test_acting_opens_none_of_the_members_other_pages(client, world, path):
    """No card is ever added for a member, no order checked out, no 1-Click turned on."""
    acting_client(client, world, world.support, world.owner)
    response = client.get(path)
    assert response.status_code in (302, 403), path
    if response.status_code == 302:  # /home sends staff to their own start page
        assert response.headers["Location"] == "/admin/members"


def test_acting_never_adds_a_card_and_shows_stored_cards_masked(client, session, world):
    things = world.of(world.owner)
    acting_client(client, world, world.support, world.owner)
    assert post_form(client, "/wallet/new", {"number": "4242424242424242", "exp_month": 12,
                                             "exp_year": 2030, "cvc": "123", "cardholder": "X"},
                     page="/autoship/").status_code == 403
    page = client.get(f"/autoship/{things.profile.id}").get_data(as_text=True)
    assert f"ending {things.card.last4}" in page and "/wallet/new" not in page


def test_stopping_ends_acting_for_every_copy_of_the_cookie(client, session, world):
    acting_client(client, world, world.support, world.owner)
    cookie = client.get_cookie("session").value
    response = post_form(client, "/admin/acting/stop", page="/autoship/")
    assert response.headers["Location"] == f"/admin/members/{world.owner.member_number}"
    assert client.get("/autoship/").status_code == 403
    client.set_cookie("session", cookie)  # the cookie as it was while acting
    assert client.get("/autoship/").status_code == 403
    assert "You are acting for" not in client.get("/admin/members").get_data(as_text=True)
    assert [e.action for e in entries(session, member_id=world.owner.id)] == \
        ["started acting for the member", "stopped acting for the member"]


def test_a_members_session_never_acts_even_if_its_row_says_so(client, session, world):
    log_in(client, world.other)
    session.execute(LoginSession.__table__.update().where(LoginSession.user_id == world.other.id)
                    .values(acting_for_id=world.owner.id))
    session.commit()
    assert client.get(f"/autoship/{world.of(world.owner).profile.id}").status_code == 404
    assert "Olive" not in client.get("/autoship/").get_data(as_text=True)


def test_staff_act_for_members_and_ibos_only(client, session, world):
    log_in(client, world.support)
    other_staff = make_support(session)
    session.commit()
    response = post_form(client, f"/admin/members/{other_staff.member_number}/act", page="/admin/members")
    assert response.status_code == 422
    assert client.get("/autoship/").status_code == 403


def test_address_and_cart_changes_are_audited_with_before_and_after(client, session, world):
    things = world.of(world.owner)
    acting_client(client, world, world.support, world.owner)
    fields = {"moniker": "Home", "full_name": "Olive Owner", "line1": "99 New Street", "line2": "",
              "city": "Springfield", "region": "IL", "postal_code": "62704", "country": "US",
              "phone": ""}
    response = post_form(client, f"/addresses/{things.address.id}/edit", fields,
                         page=f"/addresses/{things.address.id}/edit")
    assert response.status_code == 303
    response = post_form(client, f"/cart/lines/{things.cart_line.id}", {"unit": "each", "quantity": 4},
                         page="/cart/")
    assert response.status_code == 303
    session.expire_all()
    assert session.get(Address, things.address.id).line1 == "99 New Street"
    address, cart = entries(session, area="addresses"), entries(session, area="cart")
    assert [(e.action, e.actor_id, e.member_id) for e in address] == \
        [("address changed", world.support.id, world.owner.id)]
    assert "12 Olive Lane" in address[0].before and "99 New Street" in address[0].after
    assert [(e.action, e.before, e.after) for e in cart] == \
        [("cart line changed", f"1 × {world.second_product.sku} (each)",
          f"4 × {world.second_product.sku} (each)")]


def test_the_members_own_changes_write_no_audit_entry_and_no_mail(client, session, world):
    things = world.of(world.owner)
    log_in(client, world.owner)
    mails = session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1))
    response = post_form(client, f"/autoship/{things.profile.id}/items/{things.item.id}",
                         {"unit": "each", "quantity": 3}, page=f"/autoship/{things.profile.id}")
    assert response.status_code == 303
    assert entries(session) == []
    assert session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) == mails


@pytest.mark.parametrize("path, data", [
    ("/admin/products/new", {"sku": "X-1", "name": "X", "each_price": "1", "each_pv": "1",
                             "each_bv": "1", "on_hand": "1"}),
    ("/admin/autoship/", {"as_of": "2030-01-01"}),
    ("/admin/fulfilment/plan-now", {}),
])
def test_support_cannot_edit_the_catalog_or_start_runs_even_while_acting(client, session, world, path, data):
    acting_client(client, world, world.support, world.owner)
    assert post_form(client, path, data, page="/admin/members").status_code == 403
