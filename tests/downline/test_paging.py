"""Cursors: whatever text comes back from a browser is understood or refused, never a 500."""

from __future__ import annotations

import base64
import json
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.downline.listing import SORTS
from portal.downline.paging import BadCursor, decode_cursor


@given(token=st.text(max_size=300), sort=st.sampled_from(SORTS))
@settings(max_examples=300, deadline=None)
def test_any_cursor_text_is_either_understood_or_refused(token, sort):
    try:
        decode_cursor(sort, token)
    except BadCursor:
        pass


@given(key=st.one_of(st.integers(-2**70, 2**70), st.text(max_size=20), st.dates(), st.none(),
                     st.lists(st.text(max_size=5), max_size=3)),
       person_id=st.one_of(st.integers(-5, 2**70), st.text(max_size=3)),
       sort=st.sampled_from(SORTS), made_for=st.sampled_from(SORTS))
@settings(max_examples=300, deadline=None)
def test_forged_cursors_are_refused_or_well_formed(key, person_id, sort, made_for):
    raw = json.dumps([made_for, key.isoformat() if isinstance(key, date) else key, person_id])
    token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    try:
        decoded, pid = decode_cursor(sort, token)
    except BadCursor:
        return
    assert made_for == sort and type(pid) is int and pid > 0
