"""Looking for payment card data where it must never be: database rows, Redis, logs.

A card number is a run of 13 to 19 digits (plain, or in groups of four, or Amex's 4-6-5, with
spaces or dashes) standing on its own (not inside a longer word or number, so hex digests and
tokens do not count), that passes the Luhn check and starts like a card brand. A security code
is 3 or 4 digits stored under a name like cvv, cvc or security code: a column, a Redis key or
hash field, or a ``name: value`` / ``name=value`` pair in any text (JSON, logs).

tests/conftest.py runs ``scan_database`` and ``scan_redis`` after every test (just before the
tables are wiped), a logging handler sees every record of the session, and the session fails at
its end if anything was found (``report``).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Text, cast, literal, select, union_all

from portal.payments.gateway import luhn_valid

_LEFT = r"(?<![\w.])"          # not inside a word, a token or a decimal fraction
_RIGHT = r"(?![\w]|\.\d)"
CARD_LIKE = re.compile(
    _LEFT + r"(?:\d{13,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,3})?"
    r"|\d{4}(?P<amex>[ -])\d{6}(?P=amex)\d{5})" + _RIGHT)
SECURITY_CODE_NAME = re.compile(r"(?i)(?<![a-z])(?:cvv2?|cvc2?|cvn|csc|security[ _-]?code|card[ _-]?code)(?![a-z])")
SECURITY_CODE_PAIR = re.compile(SECURITY_CODE_NAME.pattern + r"""["']?\s*[:=]\s*["']?\d{3,4}(?!\d)""")
SECURITY_CODE_VALUE = re.compile(r"\s*\d{3,4}\s*")

# (first digits, lengths): Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay
BRANDS = (
    (("4",), (13, 16, 19)),
    (("51", "52", "53", "54", "55") + tuple(str(p) for p in range(2221, 2721)), (16,)),
    (("34", "37"), (15,)),
    (("6011", "65") + tuple(str(p) for p in range(644, 650)), (16, 17, 18, 19)),
    (tuple(str(p) for p in range(3528, 3590)), (16, 17, 18, 19)),
    (("36", "38", "300", "301", "302", "303", "304", "305"), (14, 15, 16, 17, 18, 19)),
    (("62",), (16, 17, 18, 19)),
)


def looks_like_a_brand(digits: str) -> bool:
    return any(digits.startswith(prefixes) and len(digits) in lengths for prefixes, lengths in BRANDS)


def card_numbers_in(text: str) -> list[str]:
    """Every card number in ``text``, as digits, masked but for the first six and last four."""
    found = []
    for match in CARD_LIKE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if looks_like_a_brand(digits) and luhn_valid(digits):
            found.append(digits[:6] + "*" * (len(digits) - 10) + digits[-4:])
    return found


def security_codes_in(text: str) -> list[str]:
    """Every ``cvc: 123``-like pair in ``text`` (the code masked)."""
    return [re.sub(r"\d", "*", match.group()) for match in SECURITY_CODE_PAIR.finditer(text)]


def problems_in(text: str) -> list[str]:
    return [f"card number {n}" for n in card_numbers_in(text)] + \
        [f"security code {c!r}" for c in security_codes_in(text)]


def as_text(value) -> str | None:
    """A stored value as text, if it could hold digits; compressed bytes (RQ job data) unpacked."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        return raw.decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)):  # JSON columns
        return json.dumps(value)
    return None


@dataclass
class Findings:
    """What the scans found over the session: (where, what) pairs, each said once."""

    items: list[str] = field(default_factory=list)
    scans: int = 0
    seconds: float = 0.0  # spent scanning, over the session
    _seen: set = field(default_factory=set)

    def add(self, where: str, problems: list[str], test: str) -> None:
        for problem in problems:
            if (where, problem) not in self._seen:
                self._seen.add((where, problem))
                self.items.append(f"{where}: {problem} [{test}]")

    def report(self) -> str:
        return ("Card data found where it must never be (the session fails); each with the test "
                "it was found in or after:\n  " + "\n  ".join(self.items))


FINDINGS = Findings()


def scan_database(session, metadata, test: str, findings: Findings = FINDINGS,
                  tables: Iterable[str] | None = None) -> None:
    """Every value of every column that can hold text (a card number does not fit in a 32-bit
    integer), in one round trip; of the named ``tables`` only (those with rows), if given."""
    started = time.perf_counter()
    names = frozenset(tables if tables is not None else (t.name for t in metadata.sorted_tables))
    statement = _every_text_value(metadata, names) if names else None
    for where, text in session.execute(statement) if statement is not None else ():
        findings.add(f"database {where}", problems_in(text), test)
        if SECURITY_CODE_NAME.search(where.split(".", 1)[1]) and SECURITY_CODE_VALUE.fullmatch(text):
            findings.add(f"database {where}", ["a security code in a column named like one"], test)
    findings.scans += 1
    findings.seconds += time.perf_counter() - started


@functools.cache
def _every_text_value(metadata, tables: frozenset[str]):
    """SELECT 'table.column', CAST(column AS TEXT) FROM table ... UNION ALL ... for them all."""
    columns = [column for table in metadata.sorted_tables if table.name in tables
               for column in table.columns if _may_hold_text(column)]
    if not columns:
        return None
    return union_all(*(select(literal(f"{column.table.name}.{column.name}"), cast(column, Text))
                       .where(column.is_not(None)) for column in columns))


def _may_hold_text(column) -> bool:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return True
    return kind in (str, bytes, dict, list) or isinstance(column.type, BigInteger)


def scan_redis(connection, test: str, findings: Findings = FINDINGS) -> None:
    """Every key and every value of every key in the Redis database, in three round trips
    (keys, their types, their values)."""
    started = time.perf_counter()
    keys = list(connection.scan_iter(count=10_000))
    if keys:
        with connection.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.type(key)
            kinds = pipe.execute()
        with connection.pipeline(transaction=False) as pipe:
            for key, kind in zip(keys, kinds):
                _READ[kind](pipe, key) if kind in _READ else pipe.echo(b"")
            contents = pipe.execute()
        for key, kind, content in zip(keys, kinds, contents):
            name = as_text(key)
            where = f"redis {name}"
            findings.add(where, problems_in(name), test)
            for field_name, value in _entries(kind, content):
                text = as_text(value) or ""
                findings.add(where, problems_in(text), test)
                label = as_text(field_name) if field_name is not None else name.rsplit(":", 1)[-1]
                if SECURITY_CODE_NAME.search(label) and SECURITY_CODE_VALUE.fullmatch(text):
                    findings.add(where, [f"a security code under {label!r}"], test)
    findings.seconds += time.perf_counter() - started


_READ = {
    b"string": lambda pipe, key: pipe.get(key),
    b"hash": lambda pipe, key: pipe.hgetall(key),
    b"list": lambda pipe, key: pipe.lrange(key, 0, -1),
    b"set": lambda pipe, key: pipe.smembers(key),
    b"zset": lambda pipe, key: pipe.zrange(key, 0, -1),
    b"stream": lambda pipe, key: pipe.xrange(key),
}


def _entries(kind: bytes, content) -> list[tuple[object, object]]:
    """(field name or None, value) pairs of one key's content; a hash's field names are values too."""
    if kind == b"string":
        return [(None, content)]
    if kind == b"hash":
        return [(None, name) for name in content] + list(content.items())
    if kind == b"stream":
        return [(None, repr(entry)) for entry in content]
    if kind in (b"list", b"set", b"zset"):
        return [(None, item) for item in content]
    return []


class CardDataLogHandler(logging.Handler):
    """Sees every log record and remembers any that carries card data."""

    def __init__(self, findings: Findings = FINDINGS):
        super().__init__(logging.DEBUG)
        self.findings = findings
        self.test = "session start"
        self.records = 0

    def emit(self, record: logging.LogRecord) -> None:
        started = time.perf_counter()
        self.records += 1
        try:
            text = record.getMessage()
        except Exception:  # a record whose arguments do not fit its message: scan both
            text = f"{record.msg} {record.args!r}"
        if record.exc_info and not record.exc_text:
            text += logging.Formatter().formatException(record.exc_info)
        problems = problems_in(text + (record.exc_text or ""))
        if problems:
            self.findings.add(f"log {record.name} ({record.levelname})", problems, self.test)
        self.findings.seconds += time.perf_counter() - started

    def scan_output(self, text: str, source: str) -> None:
        """Output of a process the tests started (a worker's log)."""
        started = time.perf_counter()
        self.findings.add(f"log {source}", problems_in(text), self.test)
        self.findings.seconds += time.perf_counter() - started
