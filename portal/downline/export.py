"""The team list as a CSV file: the export's columns and cells, written in chunks so that a
large team streams instead of being built in memory."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import date

from portal.accounts.models import User
from portal.downline.listing import TeamRow
from portal.spreadsheet import SafeWriter

HEADER = ["member_number", "first_name", "last_name", "level", "sponsor", "autoship_status",
          "next_run_date", "pv_next_run", "days_since_last_order"]
FLUSH_ROWS = 500


def csv_chunks(rows: Iterable[TeamRow], today: date, flush_rows: int = FLUSH_ROWS) -> Iterator[str]:
    """The header and one line per row, yielded every ``flush_rows`` rows."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # every cell, whatever the column: portal/spreadsheet.py
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        days = row.days_since_last_order(today)
        writer.writerow([row.member_number, row.first_name, row.last_name, row.level, row.sponsor_number or "",
                         row.status, row.next_run.isoformat() if row.next_run else "",
                         f"{row.pv:.2f}", "" if days is None else days])
        count += 1
        if count % flush_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_filename(owner: User, today: date) -> str:
    return f"downline-autoships-{owner.member_number}-{today.isoformat()}.csv"
