"""What an id from outside (a URL, a form field) may be: ASCII digits naming a row's INTEGER
primary key. Anything else names nothing, so it is "not found" or "choose one", never a
database error (PostgreSQL refuses one beyond the column's 32 bits)."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def parse_id(raw: object) -> int | None:
    """The id ``raw`` spells, or None: '12' is 12; '²', '١٢', '1e3', '-1', '0' and
    '99999999999' are not ids."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        number = raw
    else:
        text = str(raw if raw is not None else "").strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 10):
            return None
        number = int(text)
    return number if 1 <= number <= MAX_ID else None


def coerce_id(raw: object) -> int:
    """``coerce`` for a SelectField or RadioField of ids: a ValueError for anything else (the
    field then says "choose one")."""
    number = parse_id(raw)
    if number is None:
        raise ValueError("not an id")
    return number


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits up to MAX_ID, else the route does not match
    (a 404)."""

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False):
        super().__init__(map, fixed_digits, min, max, signed)
