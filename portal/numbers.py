"""Whole numbers as people write them, one rule for forms and uploads alike."""

from __future__ import annotations

import re

# ASCII digits only: Python's int() also reads '١٢' as 12 and '1_000' as 1000, which nobody
# means; more than 300 digits overflow the float WTForms compares ranges with.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,300}")


def parse_whole_number(text: str) -> int | None:
    """The number ``text`` spells in ASCII digits (an optional sign, spaces around), or None."""
    text = text.strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None
