"""Hypothesis strategies for what a hostile or clumsy client puts in a form field or a query
string: every value is what a browser could send, a ``str`` (sent UTF-8 encoded) or ``bytes``
(sent as they are: lone surrogates, invalid UTF-8, an overlong NUL). Strategies are built
once (cached): drawing is then cheap."""

from __future__ import annotations

from functools import cache

from hypothesis import strategies as st

HUGE_NUMBERS = ("2147483647", "2147483648", "-2147483649", "9223372036854775807",
                "9223372036854775808", "-9223372036854775809", "99999999999999999999999999",
                "1" + "0" * 400, "-" + "9" * 60, "sNaN", "-sNaN", "1e999999999")
ODD_NUMBERS = ("0", "-0", "-1", "+1", " 1 ", "01", "007", "1.5", "-1.5", "1e3", "1E400", "-1e-400",
               "1_000", "0x10", "0b1", "1,000", "NaN", "nan", "inf", "-Infinity", "1/2", "")
# Digits str.isdigit() accepts: int() refuses some ('²', '①') and reads others ('٣', '１２').
UNICODE_DIGITS = ("²", "①", "٣", "１２", "𝟗", "1\u00a0", "\u0661\u0662", "߂", "๓", "¹²")
ODD_DATES = ("0000-00-00", "0001-01-01", "9999-12-31", "10000-01-01", "+002024-01-01", "2024-02-30",
             "2023-02-29", "2024-13-01", "2024-00-10", "2024-1-1", "24-01-01", "2024/01/01",
             "01/02/2024", "2024-01-01T00:00:00", "2024-01-01 ", "1970-01-01", "1900-01-01",
             "2200-01-01", "2100-02-29", "tomorrow", "-2024-01-01", "٢٠٢٤-٠١-٠١", "")
INJECTIONS = ("' OR '1'='1", "1; DROP TABLE users; --", "\" OR 1=1 --", "1' UNION SELECT NULL--",
              "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)",
              "{{7*7}}", "{% raw %}", "${7*7}", "#{7*7}", "<%= 7*7 %>", "%s%s%s%n", "%(x)s",
              "../../../../etc/passwd", "..\\..\\windows", "/\\evil.example", "//evil.example",
              "http://evil.example/", "=cmd|' /C calc'!A0", "@SUM(1+1)", "null", "None", "undefined",
              "true", "false", "[]", "{}", '{"a": 1}', "[1, 2]", "*", "%", "_", "\\", "'", '"', ";",
              "FREQ=SECONDLY;INTERVAL=1", "FREQ=DAILY;COUNT=0", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
              "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=WEEKLY;UNTIL=19000101")
UNICODE = ("\u202eevil\u202c", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
           "e\u0301" * 40, "\u0300", "Z\u0351\u0352\u0353\u0354\u0355" * 10, "👨‍👩‍👧‍👦", "🇺🇸",
           "\ufeff", "\u200b", "\u2028", "\u2029", "\ufffd", "\uffff", "\U0010ffff", "ﬀ", "İ", "ß",
           "Ⅻ", "\u3000", "ｓｋｕ", "\u00a0", "ǅ")
CONTROL = ("\x00", "a\x00b", "\x01", "\x07", "\x08", "\x1b[31m", "\x7f", "\r\n", "line\r\nSet-Cookie: x=1",
           "\t", "\x0b", "\x0c", "\x1f", "\x85")
RAW_BYTES = (b"\xed\xa0\x80", b"\xed\xbf\xbf", b"a\xed\xa0\x80b", b"\xff", b"\xfe\xff",
             b"\xc0\x80", b"\xe0\x80\xaf", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xc3")


@cache
def overlong() -> st.SearchStrategy[str]:
    """10,000 to 300,000 characters (the request limit is 2 MiB)."""
    return st.builds(lambda char, size: char * size,
                     st.sampled_from(["a", "9", "é", "👍", " ", "<", "\u202e", "'"]),
                     st.sampled_from([10_000, 10_001, 65_536, 300_000]))


@cache
def number_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HUGE_NUMBERS), st.sampled_from(ODD_NUMBERS),
                     st.sampled_from(UNICODE_DIGITS),
                     st.integers(min_value=-(2**70), max_value=2**70).map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.decimals(allow_nan=True).map(str))


@cache
def date_text() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(ODD_DATES), st.dates().map(lambda d: d.isoformat()))


@cache
def hostile_text() -> st.SearchStrategy[str | bytes]:
    """Any hostile value; weighted towards the known troublemakers, with some random text."""
    return st.one_of(
        st.sampled_from(HUGE_NUMBERS + ODD_NUMBERS + UNICODE_DIGITS),
        number_text(),
        date_text(),
        st.sampled_from(INJECTIONS),
        st.sampled_from(UNICODE),
        st.sampled_from(CONTROL),
        st.sampled_from(RAW_BYTES),
        overlong(),
        st.text(max_size=40),
        st.binary(max_size=20),
    )


@cache
def hostile_for(kind: str) -> st.SearchStrategy[str | bytes]:
    """Hostile values, with those that most often break a field of ``kind`` drawn more often
    (kind: number, id, date, choice, checkbox, hidden, text, file)."""
    if kind in ("number", "id"):
        return st.one_of(st.sampled_from(HUGE_NUMBERS), st.sampled_from(UNICODE_DIGITS),
                         st.sampled_from(ODD_NUMBERS), number_text(), hostile_text())
    if kind == "date":
        return st.one_of(st.sampled_from(ODD_DATES), date_text(), hostile_text())
    return hostile_text()


@cache
def field_value(kind: str, originals: tuple[str, ...], foreign: tuple[str, ...] = ()
                ) -> st.SearchStrategy[str | bytes]:
    """A value for one field: one the page offered, someone else's id, or a hostile one."""
    choices = [hostile_for(kind)]
    if originals:
        choices.insert(0, st.sampled_from(originals))
    if foreign and kind in ("id", "choice", "number", "hidden"):
        choices.append(st.sampled_from(foreign))
    return st.one_of(*choices)


def encode(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogatepass")
