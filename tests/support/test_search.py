"""The member search: by name, email, member number or order number; every branch one ordered
range of an index (tests/support's plan check), so that it stays fast at a million members
(bench/bench_member_search.py)."""

import pytest
from sqlalchemy import select, text

from portal.support import search
from portal.support.search import find_members
from tests.conftest import log_in, page_text
from tests.factories import make_admin, make_ibo, make_paid_order, make_support, make_user


@pytest.fixture
def people(session, redis):
    sponsor = make_ibo(session, root=True, first_name="Uma", last_name="Upline", email="uma@example.test")
    found = {
        "jane": make_user(session, sponsor=sponsor, first_name="Jane", last_name="Doe",
                          email="jane.doe@example.test", member_number="31000001"),
        "john": make_user(session, sponsor=sponsor, first_name="John", last_name="Doerr",
                          email="jd@example.test", member_number="31000002"),
        "dora": make_ibo(session, sponsor=sponsor, first_name="Dora", last_name="Jansen",
                         email="dora@shop.example", member_number="31000003"),
        "percent": make_user(session, sponsor=sponsor, first_name="Pia", last_name="100%_Real",
                             email="pia@example.test"),
    }
    found["order"] = make_paid_order(session, found["dora"], redis)
    session.commit()
    return found


def names(found):
    return [person.first_name for person in found.people]


@pytest.mark.parametrize("typed, expected", [
    ("doe", ["Jane", "John"]),            # last names beginning with it, by last name
    ("DOE", ["Jane", "John"]),            # whatever the case
    ("jan", ["Jane", "Dora"]),            # first or last name (Jane, Jansen), by last name
    ("jane doe", ["Jane"]),               # first and last
    ("doe jane", ["Jane"]),               # last and first
    ("  jane   doe ", ["Jane"]),          # spaces tidied
    ("jane.doe@", ["Jane"]),              # the beginning of an email
    ("dora@shop.example", ["Dora"]),
    ("31000002", ["John"]),               # a member number
    ("oe", []),                           # the middle of a name: not a beginning
    ("%", []),                            # LIKE's wildcards are plain characters
    ("_", []),
    ("100%_", ["Pia"]),
])
def test_what_a_search_finds(session, people, typed, expected):
    assert names(find_members(session, typed)) == expected


def test_an_order_number_finds_who_placed_it(session, people):
    number = people["order"].number
    found = find_members(session, number)
    assert names(found) == ["Dora"] and found.exact == {people["dora"].id}
    assert names(find_members(session, number.lower())) == ["Dora"]
    assert names(find_members(session, "SO99999999")) == []


def test_numbers_come_first_then_names(session, people):
    people["john"].last_name = "Order"  # and his member number is typed
    session.commit()
    found = find_members(session, "31000002")
    assert names(found) == ["John"] and not found.more


def test_a_role_narrows_the_search(session, people):
    assert names(find_members(session, "j", role="ibo")) == ["Dora"]
    assert names(find_members(session, "jans", role="member")) == []
    assert names(find_members(session, "jans")) == ["Dora"]


def test_nothing_typed_lists_the_newest_people(session, people):
    assert names(find_members(session, ""))[:2] == ["Pia", "Dora"]


def test_the_limit_says_there_is_more(session, people):
    found = find_members(session, "d", limit=1)
    assert len(found.people) == 1 and found.more


def test_an_identifier_lookup_joins_the_exact_matches(session, people, monkeypatch):
    """How shipments' tracking numbers join the search: one more lookup."""
    monkeypatch.setattr(search, "IDENTIFIER_LOOKUPS",
                        [lambda s, typed: [people["jane"].id] if typed == "1Z999" else []])
    assert names(find_members(session, "1Z999")) == ["Jane"]


def test_the_search_indexes_compare_bytes_and_each_branch_is_an_index_range(session, people):
    """The indexes are built COLLATE "C" (the models cannot say so, reflection drops it), and
    the planner answers each branch from its index in order, without a sort."""
    definitions = dict(session.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_users_search_%'")).all())
    assert sorted(definitions) == ["ix_users_search_email", "ix_users_search_first_name",
                                   "ix_users_search_last_name"]
    assert all('COLLATE "C"' in d for d in definitions.values())
    # a handful of rows: the planner would as soon read them all (or a bitmap, then sort); with
    # those off, an index that can deliver the branch in order is chosen without a sort
    session.execute(text("SET LOCAL enable_seqscan = off"))
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    for query in search._prefix_queries("doe", 50) + search._prefix_queries("jane doe", 50):
        compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.scalars(text(f"EXPLAIN {compiled}")))
        assert "Index Scan using ix_users_search_" in plan and "Sort" not in plan, plan
    session.rollback()


@pytest.mark.parametrize("maker", [make_admin, make_support])
def test_the_search_page_links_each_person_to_their_page(client, session, people, maker):
    log_in(client, maker(session))
    page = client.get("/admin/members?q=doe").get_data(as_text=True)
    assert f'href="/admin/members/{people["jane"].member_number}"' in page
    assert "Jane Doe" in page_text(page) and "Dora" not in page_text(page)


def test_the_search_page_answers_htmx_with_the_results_alone(client, session, people):
    log_in(client, make_support(session))
    body = client.get("/admin/members?q=jane", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in body and "Jane Doe" in body


def test_a_tracking_number_finds_everyone_with_an_order_in_that_parcel(session, redis, people):
    from portal.fulfilment.models import Shipment, ShipmentPick
    from portal.accounts.models import User
    from portal.orders.models import Order
    from portal.fulfilment.planning import run_planning
    from portal.fulfilment.shipments import release_shipment
    from tests.factories import make_product
    from tests.fulfilment.builders import ship

    make_paid_order(session, people["jane"], redis, make_product(session))
    run_planning(session, trigger="test")
    shipment = session.scalars(select(Shipment)).one()
    release_shipment(session, actor=None, shipment_id=shipment.id)
    ship(session, shipment.id, "1Z999AA10123456784")
    in_the_parcel = set(session.scalars(
        select(User.first_name).join(Order, Order.user_id == User.id)
        .join(ShipmentPick, ShipmentPick.order_id == Order.id)
        .where(ShipmentPick.shipment_id == shipment.id)))
    found = find_members(session, "1z999aa1 0123456784")  # as typed: spaces, lower case
    assert "Jane" in in_the_parcel and set(names(found)) == in_the_parcel
    assert {person.id for person in found.people} == found.exact
    assert find_members(session, "1Z999AA10000000000").people == []
