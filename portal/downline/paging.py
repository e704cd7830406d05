"""Keyset pages: the cursor a "Show more" link carries and how large a page may be.

A cursor is the last row's sort key and person (or standing order) id, with the sort it was
made for. It comes back from the browser, so it is checked before it reaches a statement: a
damaged, forged or stale one is a ``BadCursor`` (a 400), never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date

from portal.errors import DomainError

MAX_PAGE_SIZE = 200
TREE_PATH = re.compile(r"(?:/[0-9]{1,18})+/")  # a materialised path, the tree-order key


class BadCursor(DomainError):
    status = 400


def encode_cursor(sort: str, key, person_id: int) -> str:
    key = key.isoformat() if isinstance(key, date) else key
    raw = json.dumps([sort, key, person_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: str, token: str) -> tuple[object, int]:
    """The (sort key, person id) a cursor carries, checked for the sort it was made for."""
    try:
        if len(token) > 1200:
            raise ValueError
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        made_for, key, person_id = json.loads(raw)
        if made_for != sort or type(person_id) is not int or not 0 < person_id < 2**62:
            raise ValueError
        if sort == "tree":
            if not isinstance(key, str) or not TREE_PATH.fullmatch(key):
                raise ValueError
        elif sort == "next":
            key = date.fromisoformat(key)
        elif sort == "pv":
            if type(key) is not int or abs(key) > 2**62:
                raise ValueError
        elif sort == "name":
            if not (isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) and len(k) <= 80
                                                                    and "\x00" not in k for k in key)):
                raise ValueError
            key = tuple(key)
        else:
            raise ValueError
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        raise BadCursor("This page link is damaged or out of date. Start again from the first page.")
    return key, person_id
