"""Accounts over HTTP: joining, logging in and out, safe redirects, password changes, who sees what."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.accounts.models import User
from portal.accounts.passwords import verify_password
from portal.cart.services import add_to_cart
from portal.clock import company_today
from portal.checkout.services import check_out
from portal.orders.pricing import ShippingRule
from portal.payments.gateway import SandboxGateway
from tests.accounts.web import error_beside, follow, form_values, header_links, new_browser
from tests.conftest import csrf_token, log_in, post_form
from tests.factories import (PASSWORD, make_address, make_admin, make_card, make_ibo,
                             make_product, make_user)

ARGON2_OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
GOOD_PASSWORD = "plenty of letters"
NEW_PASSWORD = "a different passphrase"
DO_NOT_MATCH = "That email and password do not match an account."
CSRF_MESSAGE = "This form has expired or was not sent from this site."
CSRF_TOKENS = re.compile(r'(?<=value=")[\w.-]{40,}(?=")|(?<="X-CSRFToken": ")[\w.-]+')


def registration(sponsor_number: str, **overrides) -> dict:
    data = dict(sponsor=sponsor_number, first_name="Nora", last_name="Newcomer",
                email="nora@example.com", password=GOOD_PASSWORD, confirm=GOOD_PASSWORD,
                role="member")
    data.update(overrides)
    return data


def register(client, data: dict):
    return post_form(client, "/register", data, page="/register")


def user_count(session) -> int:
    return session.scalar(select(func.count()).select_from(User))


def attempt_login(client, email: str, password: str, next_url: str | None = None):
    url = "/login" if next_url is None else f"/login?next={next_url}"
    return client.post(url, data={"email": email, "password": password,
                                  "csrf_token": csrf_token(client)})


def change_password(client, current: str, new: str, confirm: str | None = None):
    return post_form(client, "/account/password",
                     {"current": current, "new": new, "confirm": new if confirm is None else confirm},
                     page="/account/password")


# --- joining -------------------------------------------------------------------------------

def test_the_referral_link_fills_in_the_sponsor(client, session):
    sponsor = make_ibo(session)
    response = client.get(f"/register?sponsor={sponsor.member_number}")
    assert response.status_code == 200
    assert form_values(response)["sponsor"] == sponsor.member_number


@pytest.mark.parametrize("typed, shown", [
    ("<script>alert(1)</script>", "<script>aler"), ("x" * 10_000, "x" * 12),
    ("١٢٣", "١٢٣"), ("-5", "-5"),
])
def test_an_odd_referral_link_still_shows_the_form(client, typed, shown):
    response = client.get(f"/register?sponsor={typed}")
    assert response.status_code == 200
    assert form_values(response)["sponsor"] == shown
    assert "<script>alert" not in response.get_data(as_text=True)


def test_a_referral_link_with_a_nul_byte_is_refused_clearly(client):
    response = client.get("/register?sponsor=%00")
    assert response.status_code == 400 and "cannot accept" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "ibo"])
def test_joining_under_a_sponsor_creates_the_person_below_them_and_logs_them_in(client, session, role):
    sponsor = make_ibo(session)

    response = register(client, registration(sponsor.member_number, role=role,
                                             email="Nora@Example.COM"))

    assert response.status_code == 303
    person = session.scalar(select(User).where(User.email == "nora@example.com"))
    assert person.role == role
    assert person.sponsor_id == sponsor.id
    assert person.depth == sponsor.depth + 1
    assert person.tree_path == f"{sponsor.tree_path}{person.id}/"
    assert person.password_hash.startswith(ARGON2_OWASP_PREFIX)
    assert verify_password(person.password_hash, GOOD_PASSWORD)
    home = client.get("/home")
    assert home.status_code == 200
    assert "Hello, Nora" in home.get_data(as_text=True)
    assert person.member_number in home.get_data(as_text=True)


def test_joining_through_the_referral_link_posts_back_to_the_prefilled_form(client, session):
    sponsor = make_ibo(session)
    page = client.get(f"/register?sponsor={sponsor.member_number}")
    data = {**registration(form_values(page)["sponsor"]), "csrf_token": form_values(page)["csrf_token"]}

    response = client.post(f"/register?sponsor={sponsor.member_number}", data=data)

    assert response.status_code == 303
    assert session.scalar(select(User.sponsor_id).where(User.email == "nora@example.com")) == sponsor.id


@pytest.mark.parametrize("sponsor_kind, message", [
    ("member", "belongs to a customer; only an IBO can sponsor new people."),
    ("unknown", "No active IBO has that member number."),
    ("inactive ibo", "No active IBO has that member number."),
])
def test_only_an_active_ibo_can_sponsor(client, session, sponsor_kind, message):
    number = {"member": lambda: make_user(session).member_number,
              "unknown": lambda: "99999999",
              "inactive ibo": lambda: make_ibo(session, active=False).member_number}[sponsor_kind]()
    before = user_count(session)

    response = register(client, registration(number))

    assert response.status_code == 422
    assert message in error_beside(response, "sponsor")
    assert user_count(session) == before
    assert client.get("/home").status_code == 302  # nobody was logged in


@pytest.mark.parametrize("attempt", ["pat@example.com", "PAT@EXAMPLE.COM", "Pat@Example.Com"])
def test_an_email_already_in_use_is_refused_whatever_its_case(client, session, attempt):
    sponsor = make_ibo(session)
    make_user(session, email="pat@example.com")
    before = user_count(session)

    response = register(client, registration(sponsor.member_number, email=attempt))

    assert response.status_code == 422
    assert "already exists" in error_beside(response, "email")
    assert user_count(session) == before


def test_only_an_otherwise_valid_registration_learns_that_an_email_is_taken(client, session):
    make_user(session, email="pat@example.com")
    response = register(client, registration("99999999", email="pat@example.com"))
    assert response.status_code == 422
    assert error_beside(response, "email") == ""
    assert "No active IBO has that member number." in error_beside(response, "sponsor")


@pytest.mark.parametrize("password, message", [
    ("short", "Use 10 to 256 characters."),
    ("aaaaaaaaaaaa", "That password is too easy to guess."),
    ("x" * 300, "Use 10 to 256 characters."),
])
def test_a_weak_or_short_password_is_refused(client, session, password, message):
    sponsor = make_ibo(session)
    before = user_count(session)

    response = register(client, registration(sponsor.member_number, password=password,
                                             confirm=password))

    assert response.status_code == 422
    assert error_beside(response, "password") == message
    assert user_count(session) == before


def test_a_refused_registration_never_echoes_the_password(client, session):
    sponsor = make_ibo(session)
    response = register(client, registration(sponsor.member_number, email="not-an-email",
                                             password="Sq3amish-Ossifrage", confirm="Sq3amish-Ossifrage"))
    assert response.status_code == 422
    assert "Sq3amish-Ossifrage" not in response.get_data(as_text=True)
    assert form_values(response)["email"] == "not-an-email"  # the rest is kept for correcting


# Every field of the registration form, with values that are missing, overlong, of the wrong
# kind, made of control characters or blank.
BAD_REGISTRATION_INPUT = [
    *[(field, value) for field in ("sponsor", "first_name", "last_name", "email", "password",
                                   "confirm", "role")
      for value in ("", "x" * 10_000, "\x00", "   ")],
    ("sponsor", "-5"), ("sponsor", "abc"), ("sponsor", "١٢٣٤٥٦٧٨"), ("sponsor", "1e9"),
    ("email", "not-an-email"), ("email", "-5"), ("email", "nora\x00@example.com"),
    ("email", "nora@example.test"),
    ("first_name", "Nora\x00"), ("last_name", "Ne\x07wcomer"),
    ("password", "ab" * 6), ("confirm", "not the same password"),
    ("role", "admin"), ("role", "-1"), ("role", "ïbo"),
]


@pytest.mark.parametrize("field, value", BAD_REGISTRATION_INPUT,
                         ids=[f"{f}-{v[:12]!r}" for f, v in BAD_REGISTRATION_INPUT])
def test_bad_registration_input_is_refused_beside_its_field(client, session, field, value):
    sponsor = make_ibo(session)
    before = user_count(session)

    typed = {field: value, "confirm": value} if field == "password" else {field: value}

    response = register(client, registration(sponsor.member_number, **typed))

    assert response.status_code == 422
    assert error_beside(response, field)
    assert user_count(session) == before


REGISTRATION_FIELDS = tuple(registration("0").keys())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.fixed_dictionaries({name: st.one_of(st.none(), st.text(max_size=300))
                                   for name in REGISTRATION_FIELDS}))
def test_random_text_in_the_registration_form_never_causes_a_server_error(app, session,
                                                                         relaxed_rate_limits, data):
    sponsor = session.scalar(select(User).where(User.email == "sponsor@example.test")) \
        or make_ibo(session, email="sponsor@example.test")
    browser = new_browser(app)
    typed = {name: value for name, value in data.items() if value is not None}
    response = register(browser, {**registration(sponsor.member_number), **typed})
    assert response.status_code in (303, 422)


# --- logging in and out ---------------------------------------------------------------------

def test_logging_in_redirects_home_with_303(client, session):
    make_user(session, email="pat@example.test", first_name="Patricia")
    response = attempt_login(client, "PAT@example.test", PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    home = client.get("/home")
    assert home.status_code == 200 and "Hello, Patricia" in home.get_data(as_text=True)


@pytest.mark.parametrize("email, password", [
    ("pat@example.test", "not the password"),
    ("nobody@example.test", PASSWORD),
    ("nobody@example.test", "not the password"),
])
def test_a_failed_login_gives_the_same_generic_answer_whatever_was_wrong(client, session, email, password):
    make_user(session, email="pat@example.test")

    response = attempt_login(client, email, password)

    assert response.status_code == 422
    assert error_beside(response, "password") == DO_NOT_MATCH
    assert error_beside(response, "email") == ""
    assert client.get("/home").status_code == 302


def test_unknown_email_and_wrong_password_pages_differ_only_in_the_echoed_email(client, session):
    make_user(session, email="pat@example.test")
    wrong_password = attempt_login(client, "pat@example.test", "not the password")
    unknown_email = attempt_login(client, "zed@example.test", "not the password")

    def normalised(response):
        page = CSRF_TOKENS.sub("TOKEN", response.get_data(as_text=True))
        return page.replace("pat@example.test", "EMAIL").replace("zed@example.test", "EMAIL")

    assert wrong_password.status_code == unknown_email.status_code == 422
    assert normalised(wrong_password) == normalised(unknown_email)


def test_an_inactive_person_cannot_log_in(client, session):
    make_user(session, email="pat@example.test", active=False)
    response = attempt_login(client, "pat@example.test", PASSWORD)
    assert response.status_code == 422
    assert error_beside(response, "password") == DO_NOT_MATCH
    assert client.get("/home").status_code == 302


@pytest.mark.parametrize("field, value", [
    ("email", ""), ("email", "x" * 10_000), ("email", "pat\x00@example.test"), ("email", "   "),
    ("password", ""), ("password", "x" * 10_000), ("password", "\x00"),
])
def test_bad_login_input_is_refused_beside_its_field(client, session, field, value):
    make_user(session, email="pat@example.test")
    data = {"email": "pat@example.test", "password": PASSWORD, field: value}
    response = attempt_login(client, data["email"], data["password"])
    assert response.status_code == 422
    assert error_beside(response, field)
    assert client.get("/home").status_code == 302


def test_a_weaker_hash_is_upgraded_when_logging_in(client, session):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    person = make_user(session, password_hash=weak)

    assert attempt_login(client, person.email, PASSWORD).status_code == 303

    assert person.password_hash.startswith(ARGON2_OWASP_PREFIX)
    assert verify_password(person.password_hash, PASSWORD)


@pytest.mark.parametrize("next_url, landing", [
    ("/orders/", "/orders/"),
    ("/orders/?page=2", "/orders/?page=2"),
    ("https://evil.example/", "/"),
    ("//evil.example", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("/\t/evil.example", "/"),
    ("/\r\nSet-Cookie:%20stolen=1", "/"),
    ("javascript:alert(1)", "/"),
    ("evil.example", "/"),
    ("", "/"),
])
def test_after_login_only_our_own_paths_are_followed(client, session, next_url, landing):
    person = make_user(session)
    response = attempt_login(client, person.email, PASSWORD, next_url=next_url.replace("\\", "%5C")
                             .replace("\t", "%09").replace("\r", "%0D").replace("\n", "%0A"))
    assert response.status_code == 303
    assert response.headers["Location"] == landing
    assert "stolen" not in response.headers.get("Set-Cookie", "")


def test_a_protected_page_sends_an_anonymous_visitor_to_log_in_and_back(client, session):
    person = make_user(session)
    response = client.get("/orders/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Forders%2F"
    after = client.post(response.headers["Location"],
                        data={"email": person.email, "password": PASSWORD,
                              "csrf_token": csrf_token(client)})
    assert after.headers["Location"] == "/orders/"


def test_an_anonymous_htmx_request_gets_a_401_that_takes_the_page_to_log_in(htmx, session):
    response = htmx.get("/cart/badge", headers={"HX-Current-URL": "http://localhost/shop/?q=tea"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=%2Fshop%2F%3Fq%3Dtea"
    assert "<html" not in response.get_data(as_text=True)  # a fragment, should it be shown
    refused = htmx.post("/cart/add", data={"csrf_token": csrf_token(htmx)})
    assert refused.status_code == 401 and refused.headers["HX-Redirect"].startswith("/login?next=")


def test_logging_out_takes_a_post_with_a_csrf_token(client, session):
    log_in(client, make_user(session))

    assert client.get("/logout").status_code == 405
    refused = client.post("/logout")
    assert refused.status_code == 400
    assert client.get("/home").status_code == 200  # still logged in

    response = post_form(client, "/logout", page="/home")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert client.get("/home").status_code == 302


@pytest.mark.parametrize("url, logged_in", [
    ("/login", False), ("/register", False), ("/account/password", True), ("/logout", True),
])
def test_a_form_without_its_csrf_token_is_refused_with_a_clear_message(client, session, url, logged_in):
    person = make_user(session)
    if logged_in:
        log_in(client, person)
    before = user_count(session)
    response = client.post(url, data={"email": "x@example.test", "password": "whatever 12345",
                                      "current": PASSWORD, "new": NEW_PASSWORD,
                                      "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert user_count(session) == before
    assert verify_password(person.password_hash, PASSWORD)
    assert (client.get("/home").status_code == 200) == logged_in  # not logged in, nor out


def test_a_forged_csrf_token_is_refused(client, session):
    person = make_user(session)
    response = client.post("/login", data={"email": person.email, "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


# --- changing the password ------------------------------------------------------------------

def test_changing_the_password_logs_out_every_other_session(client, another_browser, session):
    person = make_user(session)
    log_in(client, person)
    log_in(another_browser, person)

    response = change_password(client, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 303
    assert client.get("/home").status_code == 200  # this browser stays logged in
    elsewhere = another_browser.get("/home")
    assert elsewhere.status_code == 302
    assert elsewhere.headers["Location"].startswith("/login")
    assert verify_password(person.password_hash, NEW_PASSWORD)
    assert attempt_login(new_browser(client.application), person.email, PASSWORD).status_code == 422
    assert attempt_login(new_browser(client.application), person.email, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("current, new, confirm, field, message", [
    ("not my password", NEW_PASSWORD, None, "current", "Your current password is not right."),
    (PASSWORD, PASSWORD, None, "new", "Choose a password different from the current one."),
    (PASSWORD, "short", None, "new", "Use 10 to 256 characters."),
    (PASSWORD, "zzzzzzzzzzzz", None, "new", "That password is too easy to guess."),
    (PASSWORD, NEW_PASSWORD, "something else", "confirm", "The passwords differ."),
    ("", NEW_PASSWORD, None, "current", "Enter your current password."),
    (PASSWORD, "x" * 10_000, None, "new", "Use 10 to 256 characters."),
])
def test_a_refused_password_change_keeps_everything_as_it_was(client, another_browser, session,
                                                               current, new, confirm, field, message):
    person = make_user(session)
    log_in(client, person)
    log_in(another_browser, person)
    before = person.password_hash

    response = change_password(client, current, new, confirm)

    assert response.status_code == 422
    assert message in error_beside(response, field)
    assert person.password_hash == before
    assert another_browser.get("/home").status_code == 200


def test_changing_the_password_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- where each role lands and what it sees -----------------------------------------------

def place_order(session, person, redis) -> str:
    address = make_address(session, person)
    card = make_card(session, person, redis)
    product = make_product(session, name="Green Tea")
    add_to_cart(session, user=person, product_id=product.id, unit_code="each", quantity=2,
                max_quantity=999)
    order = check_out(session, user=person, address_id=address.id, card_id=card.id,
                      idempotency_key="landing-test", gateway=SandboxGateway(redis),
                      shipping=ShippingRule(flat_fee=5, free_from=100), today=company_today())
    return order.number


@pytest.mark.parametrize("role", ["member", "ibo"])
def test_members_and_ibos_land_on_their_home_page_with_recent_orders(client, session, redis, role):
    person = make_user(session, role=role)
    number = place_order(session, person, redis)
    log_in(client, person)

    home, path = follow(client, client.get("/"))

    assert path == "/home"
    page = home.get_data(as_text=True)
    assert "Recent orders" in page and number in page
    assert ("Your downline" in page) == (role == "ibo")


def test_an_ibo_home_page_counts_the_downline(client, session):
    ibo = make_ibo(session)
    recruit = make_ibo(session, sponsor=ibo)
    make_user(session, sponsor=recruit)
    log_in(client, ibo)
    page = client.get("/home").get_data(as_text=True)
    assert "<strong>2</strong> people below you" in page


def test_an_admin_lands_on_operations(client, session):
    log_in(client, make_admin(session))
    assert follow(client, client.get("/"))[1] == "/admin/"
    assert follow(client, client.get("/home"))[1] == "/admin/"


NAVIGATION = {
    "member": ({"Shop", "Orders", "Addresses", "Wallet", "Cart", "Log out"},
               {"Your team", "Operations", "Members", "Products", "All orders", "Outbox", "Log in"}),
    "ibo": ({"Shop", "Orders", "Your team", "Addresses", "Wallet", "Cart", "Log out"},
            {"Downline", "Team", "Operations", "Members", "Products", "All orders", "Outbox", "Log in"}),
    "admin": ({"Operations", "Members", "Products", "All orders", "Outbox", "Log out"},
              {"Cart", "Your team", "Shop", "Wallet", "Addresses", "Orders", "Log in"}),
    None: ({"Shop", "Log in", "Join"},
           {"Cart", "Your team", "Operations", "Wallet", "Addresses", "Orders", "Log out"}),
}


@pytest.mark.parametrize("role", ["member", "ibo", "admin", None])
def test_the_navigation_shows_each_role_only_what_it_may_use(client, session, role):
    if role is not None:
        log_in(client, make_user(session, role=role))
    page = {"member": "/home", "ibo": "/home", "admin": "/admin/", None: "/shop/"}[role]

    links = header_links(client.get(page))

    shown, hidden = NAVIGATION[role]
    assert shown <= links
    assert not hidden & links
