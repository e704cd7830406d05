"""Ids from outside: ASCII digits naming an INTEGER row, or nothing."""

import pytest

from portal.ids import MAX_ID, coerce_id, parse_id
from tests.conftest import log_in, post_form
from tests.factories import make_address, make_user


@pytest.mark.parametrize("raw, expected", [
    ("12", 12), (" 7 ", 7), (12, 12), (str(MAX_ID), MAX_ID),
    (str(MAX_ID + 1), None), ("9223372036854775808", None), ("1" + "0" * 400, None),
    ("0", None), ("-1", None), ("+1", None), ("1e3", None), ("1.0", None), ("1_000", None),
    ("²", None), ("①", None), ("١٢", None), ("１２", None), ("", None), (None, None), (True, None),
    (0, None), (-4, None), (2**63, None),
])
def test_only_ascii_digits_within_an_integer_column_are_an_id(raw, expected):
    assert parse_id(raw) == expected


def test_coerce_id_refuses_what_is_no_id_so_the_field_says_choose_one():
    assert coerce_id("41") == 41
    with pytest.raises(ValueError):
        coerce_id("9223372036854775808")


@pytest.mark.parametrize("path", [
    "/addresses/9223372036854775808/edit", "/addresses/2147483648/edit",
    "/addresses/1" + "0" * 100 + "/edit", "/addresses/%D9%A1/edit", "/autoship/99999999999999999999",
])
def test_an_id_in_a_url_beyond_any_row_is_not_found(client, session, path):
    log_in(client, make_user(session))
    assert client.get(path).status_code == 404


def test_a_huge_id_in_an_unsafe_url_is_not_found_and_changes_nothing(client, session):
    person = make_user(session)
    make_address(session, person, moniker="Home")
    log_in(client, person)
    for path in ("/addresses/9223372036854775808/remove", "/wallet/9223372036854775808/default",
                 "/autoship/9223372036854775808/cancel", "/cart/lines/99999999999999999999999/remove"):
        assert post_form(client, path).status_code == 404
    assert client.get("/addresses/").get_data(as_text=True).count("Home") >= 1
