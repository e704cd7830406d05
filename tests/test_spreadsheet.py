"""One rule keeps every CSV the portal exports from running in a spreadsheet."""

from __future__ import annotations

import ast
import csv
import io

import pytest

from portal import PROJECT_ROOT
from portal.spreadsheet import SafeWriter, looks_like_formula, neutral_cell


@pytest.mark.parametrize("value, cell", [
    ('=HYPERLINK("http://evil.example","Click")', '\'=HYPERLINK("http://evil.example","Click")'),
    ("+1+2", "'+1+2"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("  =1", "'  =1"),        # leading blanks do not hide a formula
    ("-12.50", "-12.50"),      # a negative number stays a number
    ("-3", "-3"),
    (-3, -3),
    (4.5, 4.5),
    ("Alice = Bob", "Alice = Bob"),
    ("M1-2", "M1-2"),
    (None, ""),
    (True, "True"),
])
def test_a_cell_that_would_run_is_shown_as_text(value, cell):
    assert neutral_cell(value) == cell


def test_the_writer_neutralises_every_column():
    buffer = io.StringIO()
    SafeWriter(buffer).writerow(["=1+1", "@x", "plain", -1])
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == ["'=1+1", "'@x", "plain", "-1"]
    assert looks_like_formula("=x") and not looks_like_formula("x=")


def test_no_export_writes_csv_without_the_rule():
    """Every CSV writer in the portal is the SafeWriter: a bare csv.writer is found here."""
    bare = []
    for path in (PROJECT_ROOT / "portal").rglob("*.py"):
        if path.name == "spreadsheet.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter") \
                    and isinstance(node.value, ast.Name) and node.value.id == "csv":
                bare.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "csv" and \
                    any(alias.name in ("writer", "DictWriter") for alias in node.names):
                bare.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert bare == []
