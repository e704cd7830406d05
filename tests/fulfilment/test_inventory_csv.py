"""Reading inventory CSV files: every row checked, every problem reported by line."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.fulfilment.inventory_csv import CsvRejected, CsvRow, read_rows

TODAY = date(2026, 3, 2)


def read(text: str | bytes, arrivals: bool = False, max_rows: int = 100, max_bytes: int = 10_000):
    data = text.encode() if isinstance(text, str) else text
    return read_rows(data, arrivals=arrivals, today=TODAY, max_bytes=max_bytes, max_rows=max_rows)


def problems(text: str | bytes, **kwargs) -> list[str]:
    with pytest.raises(CsvRejected) as caught:
        read(text, **kwargs)
    return caught.value.problems


def test_positional_columns_without_a_header():
    assert read("vit-001,5\nVIT-002,12,,PO-7\n") == [
        CsvRow(line=1, sku="VIT-001", eaches=5, expected_on=None, reference=""),
        CsvRow(line=2, sku="VIT-002", eaches=12, expected_on=None, reference="PO-7")]


def test_a_header_names_columns_in_any_order_and_blank_lines_are_skipped():
    rows = read("reference,expected_date,eaches,sku\r\n\r\nPO-1,2026-03-20,4,VIT-001\r\n", arrivals=True)
    assert rows == [CsvRow(line=3, sku="VIT-001", eaches=4, expected_on=date(2026, 3, 20), reference="PO-1")]


def test_a_byte_order_mark_and_quoted_cells_are_fine():
    assert read('\ufeffsku,eaches\n"VIT-001","7"\n'.encode("utf-8"))[0].eaches == 7


def test_every_bad_row_is_reported_with_its_line_number():
    found = problems("sku,eaches,expected_date\nVIT-001,ten\n,3\nVIT 9,4\nVIT-002,0\nVIT-003,5,2026-04-01\n")
    assert found == [
        "Line 2: eaches must be a whole number from 1 to 1,000,000 (found 'ten').",
        "Line 3: the SKU is missing.",
        "Line 4: 'VIT 9' is not a SKU.",
        "Line 5: eaches must be a whole number from 1 to 1,000,000 (found '0').",
        "Line 6: a receipt has no expected date; leave that column empty.",
    ]


@pytest.mark.parametrize("cell", ["\u0661\u0662", "\uff11\uff12", "1_2", "1e3", "\u00b2", "12.0"])
def test_eaches_are_ascii_digits_as_in_every_form(cell):
    # Python's int() reads Arabic-Indic '١٢' and full-width '１２' as 12: no form accepts them.
    assert problems(f"VIT-001,{cell}\n") == [
        f"Line 1: eaches must be a whole number from 1 to 1,000,000 (found {cell!r})."]


@pytest.mark.parametrize("cell, message", [
    ("", "the expected date is missing"),
    ("03/20/2026", "is not a date"),
    ("2026-02-30", "is not a date"),
    ("2026-03-01", "is in the past"),
    ("2029-01-01", "more than two years away"),
])
def test_arrivals_need_a_sensible_expected_date(cell, message):
    [problem] = problems(f"VIT-001,5,{cell}\n", arrivals=True)
    assert problem.startswith("Line 1:") and message in problem


@pytest.mark.parametrize("text, message", [
    ("", "The file is empty."),
    ("\n\n", "The file is empty."),
    ("sku,eaches\n", "The file has a header but no rows."),
    ("sku,quantity\nA,1\n", "the header must name the columns"),
    ("sku,eaches,eaches\nA,1,1\n", "the header must name the columns"),
    ("A,1,,R,extra\n", "at most 4"),
    ('A,"1\n', "not valid CSV"),
])
def test_files_that_are_not_right_as_a_whole(text, message):
    assert any(message in problem for problem in problems(text))


def test_a_reference_with_odd_characters_is_refused():
    [problem] = problems("A,1,,<script>\n")
    assert "the reference must be" in problem


def test_size_and_row_limits():
    assert "larger than 100 bytes" in problems("A,1\n" * 50, max_bytes=100)[0]
    assert "at most 3 at a time" in problems("A,1\n" * 4, max_rows=3)[0]
    assert len(read("A,1\n" * 3, max_rows=3)) == 3


def test_binary_and_other_encodings_are_refused():
    assert "not UTF-8" in problems(b"\xff\xfeA\x00,\x001\x00")[0]
    assert "not a CSV text file" in problems(b"A,1\x00\n")[0]


def test_a_long_list_of_problems_is_cut_short():
    with pytest.raises(CsvRejected) as caught:
        read("A,x\n" * 80)
    assert caught.value.message == "Nothing was imported: the file has 80 problems."
    assert len(caught.value.problems) == 51 and caught.value.problems[-1] == "... and 30 more."


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode), arrivals=st.booleans())
def test_any_upload_gives_rows_or_a_list_of_problems_never_a_crash(data, arrivals):
    try:
        rows = read(data, arrivals=arrivals)
    except CsvRejected as rejected:
        assert rejected.problems and all(isinstance(p, str) and p for p in rejected.problems)
    else:
        assert rows and all(1 <= row.eaches <= 1_000_000 and row.sku for row in rows)
