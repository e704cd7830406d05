"""The team pages' query strings (the list's filters, page sizes, the tree's "show more"
links): their shape only.

A GET filter form never refuses a page: a value that does not make sense is dropped, and
the page says so beside the filters, so a hand-edited or stale link still shows something.
"""

from __future__ import annotations

from datetime import date

from werkzeug.datastructures import MultiDict

from portal.downline.listing import MAX_LEVEL, SORTS, TeamFilters
from portal.downline.paging import MAX_PAGE_SIZE, TREE_PATH
from portal.downline.statuses import STATUSES

MAX_TEXT = 80
PAGE_SIZE = 50


def _date(raw: str, label: str, notices: list[str]) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw[:10]) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2200:
        notices.append(f"“{raw[:20]}” is not a date we can use for {label}; it was ignored.")
        return None
    return day


def parse_filters(args: MultiDict) -> tuple[TeamFilters, list[str]]:
    """Filters from a query string, and a note for each value that was ignored."""
    notices: list[str] = []
    level = None
    raw_level = (args.get("level") or "").strip()
    if raw_level:
        if raw_level.isascii() and raw_level.isdigit() and len(raw_level) <= 4 \
                and 1 <= int(raw_level) <= MAX_LEVEL:
            level = int(raw_level)
        else:
            notices.append(f"Level must be a number from 1 to {MAX_LEVEL}; it was ignored.")
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in STATUSES:
        notices.append("That autoship status is unknown; it was ignored.")
        status = None
    next_from = _date((args.get("next_from") or "").strip(), "“next run from”", notices)
    next_to = _date((args.get("next_to") or "").strip(), "“next run to”", notices)
    if next_from and next_to and next_from > next_to:
        notices.append("The date range ends before it starts; the dates were swapped.")
        next_from, next_to = next_to, next_from
    text = " ".join((args.get("q") or "").split())
    if len(text) > MAX_TEXT:
        notices.append(f"The search was cut to its first {MAX_TEXT} characters.")
        text = text[:MAX_TEXT]
    sort = args.get("sort") or "tree"
    if sort not in SORTS:
        notices.append("That sort order is unknown; the list is in tree order.")
        sort = "tree"
    return TeamFilters(level=level, status=status, next_from=next_from, next_to=next_to,
                       text=text, sort=sort), notices


def filter_args(filters: TeamFilters) -> dict[str, str]:
    """The query-string form of ``filters`` (for links that keep them)."""
    values = {"level": filters.level, "status": filters.status, "next_from": filters.next_from,
              "next_to": filters.next_to, "q": filters.text,
              "sort": filters.sort if filters.sort != "tree" else None}
    return {k: (v.isoformat() if isinstance(v, date) else str(v)) for k, v in values.items() if v}


def parse_page_size(args: MultiDict) -> int:
    """Rows per page from ``size`` (1-200); anything else means the default."""
    raw = args.get("size", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 3 and 0 < int(raw) <= MAX_PAGE_SIZE:
        return int(raw)
    return PAGE_SIZE


def parse_tree_after(args: MultiDict) -> str | None:
    """The path a "show more recruits" link continues after; None (the first page) when
    ``after`` is not a path."""
    after = args.get("after", "")[:512]
    return after if TREE_PATH.fullmatch(after) else None
