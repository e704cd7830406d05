"""The one rule for text the portal writes into a CSV file that someone opens in a spreadsheet.

Excel, LibreOffice and Google Sheets read a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some of them, a tab or a carriage return) as a formula: a member who names themselves
``=HYPERLINK("http://evil.example","Click")`` would put a working link, or worse, into the
sheet of the admin or upline who opens the export. Every CSV export writes its rows through
``safe_row`` (or ``SafeWriter``); uploads refuse such text with ``looks_like_formula``.

A cell that is a plain number ("-3", "-12.50") is no formula and keeps its sign; anything else
that starts with one of those characters is prefixed with an apostrophe, which spreadsheets
show as text and do not display.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def looks_like_formula(text: str) -> bool:
    """Would a spreadsheet read ``text`` as a formula (or the start of one)?"""
    stripped = text.lstrip(" ")
    return (stripped[:1] in FORMULA_STARTS or text[:1] in FORMULA_STARTS) \
        and not PLAIN_NUMBER.fullmatch(text)


def neutral_cell(value: Any) -> Any:
    """``value`` as a cell no spreadsheet runs: numbers as they are, text that would start a
    formula prefixed with an apostrophe, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if looks_like_formula(text) else text


def safe_row(cells: Iterable[Any]) -> list[Any]:
    return [neutral_cell(cell) for cell in cells]


class SafeWriter:
    """``csv.writer`` whose every row goes through ``safe_row``: exports use this, never a bare
    ``csv.writer``, so that no column can be forgotten."""

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, cells: Iterable[Any]):
        return self._writer.writerow(safe_row(cells))

    def writerows(self, rows: Iterable[Iterable[Any]]):
        for cells in rows:
            self.writerow(cells)
