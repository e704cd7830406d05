"""Reading inventory CSV files: receipts and expected arrivals, every row checked.

Columns are ``sku,eaches[,expected_date][,reference]``, in that order, or in any order under a
header row that names them (a first row with a cell "sku" or "eaches"). Blank lines are skipped.
Eaches follow the forms' rules (ASCII digits, 1 to ``MAX_EACHES`` a row); what the rows add up to
is checked against the stock ceiling by the importer, which knows what is on hand.
Nothing is returned unless every row is good: the problems of all rows are raised together,
each with its line number, so that a file is fixed once and uploaded once.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

from portal.errors import DomainError
from portal.numbers import parse_whole_number

COLUMNS = ("sku", "eaches", "expected_date", "reference")
MAX_EACHES = 1_000_000
MAX_PROBLEMS_SHOWN = 50
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]{0,39}$")
SKU_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,32}$")


class CsvRejected(DomainError):
    """A file with problems: nothing of it was imported. ``problems`` lists them by line."""

    def __init__(self, problems: list[str]):
        shown = problems[:MAX_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more.")
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"Nothing was imported: the file has {len(problems)} {noun}.")
        self.problems = shown


@dataclass(frozen=True)
class CsvRow:
    line: int
    sku: str
    eaches: int
    expected_on: date | None
    reference: str


def read_rows(data: bytes, *, arrivals: bool, today: date, max_bytes: int,
              max_rows: int) -> list[CsvRow]:
    """The rows of an upload, or CsvRejected with every problem."""
    rows, problems = parse_rows(data, arrivals=arrivals, today=today, max_bytes=max_bytes,
                                max_rows=max_rows)
    if problems:
        raise CsvRejected(problems)
    return rows


def by_line(problems: list[str]) -> list[str]:
    """Problems in line order (each starts "Line N:")."""
    def line_number(problem: str) -> int:
        found = re.match(r"Line (\d+):", problem)
        return int(found.group(1)) if found else 0
    return sorted(problems, key=line_number)


def parse_rows(data: bytes, *, arrivals: bool, today: date, max_bytes: int,
               max_rows: int) -> tuple[list[CsvRow], list[str]]:
    """The good rows of an upload and the problems of the others, by line; CsvRejected at
    once when the file as a whole is not right (empty, too big, not UTF-8 CSV, bad header).

    For arrivals the expected date is required (today or later, within two years); receipts
    have none. A reference is optional for both.
    """
    records = file_records(data, max_bytes)
    columns = list(COLUMNS)
    problems: list[str] = []
    first_line, first_cells = records[0]
    if any(cell.strip().lower() in ("sku", "eaches") for cell in first_cells):
        columns = [cell.strip().lower() for cell in first_cells]
        unknown = [name for name in columns if name not in COLUMNS]
        missing = [name for name in ("sku", "eaches") if name not in columns]
        if unknown or missing or len(set(columns)) != len(columns):
            raise CsvRejected([f"Line {first_line}: the header must name the columns "
                               f"{', '.join(COLUMNS)} (sku and eaches required, each once); "
                               f"found {', '.join(repr(c) for c in columns)}."])
        records = records[1:]
        if not records:
            raise CsvRejected(["The file has a header but no rows."])
    if len(records) > max_rows:
        raise CsvRejected([f"The file has {len(records):,} rows; at most {max_rows:,} at a time."])

    rows = []
    for number, cells in records:
        row = _read_row(number, cells, columns, arrivals=arrivals, today=today, problems=problems)
        if row is not None:
            rows.append(row)
    return rows, problems


def file_records(data: bytes, max_bytes: int) -> list[tuple[int, list[str]]]:
    """The non-blank records of an uploaded CSV file with their line numbers, or CsvRejected
    when the file as a whole is not right: empty, too big, not UTF-8, not CSV. Every CSV upload
    (inventory, tracking numbers) reads its file through this."""
    if not data.strip():
        raise CsvRejected(["The file is empty."])
    if len(data) > max_bytes:
        raise CsvRejected([f"The file is larger than {max_bytes:,} bytes; split it into smaller files."])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvRejected(["The file is not UTF-8 text; save it as CSV (UTF-8)."]) from None
    if "\0" in text:
        raise CsvRejected(["The file is not a CSV text file."])
    records = [(number, cells) for number, cells in _records(text) if any(c.strip() for c in cells)]
    if not records:
        raise CsvRejected(["The file has no rows."])
    return records


def _records(text: str):
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as error:
        raise CsvRejected([f"Line {reader.line_num}: this is not valid CSV ({error})."]) from None


def _read_row(number: int, cells: list[str], columns: list[str], *, arrivals: bool,
              today: date, problems: list[str]) -> CsvRow | None:
    if len(cells) > len(columns):
        extra = cells[len(columns):]
        if any(cell.strip() for cell in extra):
            problems.append(f"Line {number}: {len(cells)} columns, but at most {len(columns)} "
                            f"({','.join(columns)}).")
            return None
    values = {name: (cells[index].strip() if index < len(cells) else "")
              for index, name in enumerate(columns)}
    found_before = len(problems)

    sku = values["sku"].upper()
    if not sku:
        problems.append(f"Line {number}: the SKU is missing.")
    elif not SKU_PATTERN.match(sku):
        problems.append(f"Line {number}: {values['sku'][:40]!r} is not a SKU.")

    raw = values["eaches"]
    eaches = parse_whole_number(raw)  # the forms' rule: ASCII digits, so '١٢' is no number
    if eaches is None or not 1 <= eaches <= MAX_EACHES:
        problems.append(f"Line {number}: eaches must be a whole number from 1 to {MAX_EACHES:,}"
                        f" (found {raw[:20]!r}).")

    expected_on = None
    raw = values.get("expected_date", "")
    if arrivals:
        expected_on = _expected_date(number, raw, today, problems)
    elif raw:
        problems.append(f"Line {number}: a receipt has no expected date; leave that column empty.")

    reference = values.get("reference", "")
    if reference and not REFERENCE_PATTERN.match(reference):
        problems.append(f"Line {number}: the reference must be 1 to 40 letters, digits, spaces "
                        f"or . _ / # - (found {reference[:50]!r}).")

    if len(problems) > found_before:
        return None
    return CsvRow(line=number, sku=sku, eaches=eaches, expected_on=expected_on, reference=reference)


def _expected_date(number: int, raw: str, today: date, problems: list[str]) -> date | None:
    if not raw:
        problems.append(f"Line {number}: the expected date is missing (YYYY-MM-DD).")
        return None
    try:
        expected_on = date.fromisoformat(raw) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) else None
    except ValueError:
        expected_on = None
    if expected_on is None:
        problems.append(f"Line {number}: {raw[:20]!r} is not a date (YYYY-MM-DD).")
        return None
    if expected_on < today:
        problems.append(f"Line {number}: the expected date {raw} is in the past.")
        return None
    if expected_on > today + timedelta(days=730):
        problems.append(f"Line {number}: the expected date {raw} is more than two years away.")
        return None
    return expected_on
