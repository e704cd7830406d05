"""The machinery of the fuzz tests: a persona's client, the fields a target's pages offer,
hypothesis strategies for whole requests, and sending one as a browser (or htmx) would.

Requests are built byte by byte, so that a field can carry what no ``str`` can: a lone
surrogate, invalid UTF-8, a field twice or not at all.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit

from flask import current_app
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import update
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, RequestRedirect, Rule

from portal.accounts.models import User
from portal.clock import company_today
from portal.extensions import db
from portal.oneclick.identifiers import COOKIE_NAME
from tests.conftest import BrowserLikeClient, log_in
from tests.factories import _PASSWORD_HASH, PASSWORD
from tests.security.forms_on_page import Field, Form, forms_on, links_on
from tests.security.hostile import encode, field_value, hostile_text
from tests.security.routes import url_for_rule
from tests.world import World

UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_IN_PAGE = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')
HOME = {"anon": "/shop/", "admin": "/admin/", "support": "/admin/members"}


def fuzz_settings(default_examples: int) -> settings:
    """``FUZZ_EXAMPLES`` raises (or lowers) the examples per target for a deeper local run.
    Under CI the examples are the same on every run (a submission lands or not on its own
    merits); locally each run explores new ones."""
    return settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", default_examples)),
                    derandomize=bool(os.environ.get("CI")),
                    deadline=None, print_blob=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# --- A persona's browser -----------------------------------------------------------------------

class Browser:
    """A test client acting as one persona of the world, keeping its CSRF token."""

    def __init__(self, app, world: World, persona: str, oneclick_cookie: bool = False):
        app.test_client_class = BrowserLikeClient
        self.app, self.world, self.persona = app, world, persona
        self.oneclick_cookie = oneclick_cookie
        self.client = None
        self.csrf = ""
        self.start()

    @property
    def user(self) -> User | None:
        return self.world.persona(self.persona)

    @property
    def home(self) -> str:
        return HOME.get(self.persona, "/home")

    def start(self) -> None:
        """A fresh browser: no cookies, then logged in as the persona (with the 1-Click cookie
        of the owner's browser if asked)."""
        self.client = self.app.test_client()
        if self.oneclick_cookie:
            self.client.set_cookie(COOKIE_NAME, self.world.of(self.world.owner).client_token)
        if self.user is not None:
            log_in(self.client, self.user)
        self.refresh_csrf()

    def refresh_csrf(self, page: str | None = None) -> None:
        self.csrf = csrf_in(self.client.get(page or self.home).get_data(as_text=True))

    def flashed_errors(self) -> list[str]:
        """The error messages waiting in the session for the next page (a refusal answered
        with a redirect)."""
        with self.client.session_transaction() as session:
            return [message for category, message in session.get("_flashes", []) if category == "error"]

    def get(self, path: str, **kwargs):
        return self.client.get(path, buffered=True, **kwargs)  # a streamed body is read in its context

    def still_works(self, pages: list[str]) -> None:
        """After a request that succeeded: the persona's pages still render. A request that
        logged the persona out (log out, a password change) is followed by a new login."""
        response = self.get(self.home)
        assert response.status_code < 500, f"{self.home} answered {response.status_code} afterwards"
        logged_out = response.status_code in (302, 303) and "/login" in response.headers["Location"]
        logged_in = self.persona == "anon" and "Log out" in response.get_data(as_text=True)
        if logged_out or logged_in:
            if self.user is not None:  # the password may have been changed to a fuzzed one
                db.session.execute(update(User).where(User.id == self.user.id)
                                   .values(password_hash=_PASSWORD_HASH))
                db.session.commit()
            self.start()
        for page in pages:
            status = self.get(page).status_code
            assert status < 500, f"{page} answered {status} afterwards"
        if logged_out or logged_in or response.status_code != 200:
            self.refresh_csrf()
        else:  # the session (and so its token) may have been renewed by the request
            self.csrf = csrf_in(response.get_data(as_text=True))


def csrf_in(html: str) -> str:
    match = CSRF_IN_PAGE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


# --- Pages and their forms ---------------------------------------------------------------------

def page_path(spec, world: World) -> str:
    if callable(spec):
        return spec(world)
    rule = next(r for r in current_app.url_map.iter_rules(spec) if "GET" in r.methods)
    return url_for_rule(rule, world)


def endpoint_of(path: str, method: str) -> str | None:
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(urlsplit(path).path, method=method)
    except (NotFound, MethodNotAllowed, RequestRedirect):
        return None
    return endpoint


def forms_for(browser: Browser, endpoint: str, pages: list[str]) -> list[Form]:
    """The forms on ``pages`` that submit to ``endpoint``, as the browser sees the pages."""
    found = []
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, f"{page} answered {response.status_code} to {browser.persona}"
        for form in forms_on(response.get_data(as_text=True), page):
            if form.method in UNSAFE_METHODS and endpoint_of(form.action, form.method) == endpoint:
                found.append(form)
    return found


def merged_fields(forms: list[Form]) -> tuple[dict[str, Field], dict[str, list[str]], bool]:
    """The union of the forms' fields (CSRF token aside), their action's query parameters,
    and whether any is a file upload."""
    fields: dict[str, Field] = {}
    query: dict[str, list[str]] = {}
    for form in forms:
        for name, found in form.fields.items():
            if name == "csrf_token":
                continue
            known = fields.setdefault(name, Field(name, found.kind))
            for value in found.values:
                known.offer(value)
        for name, value in parse_qsl(urlsplit(form.action).query, keep_blank_values=True):
            query.setdefault(name, [])
            if value not in query[name]:
                query[name].append(value)
    return fields, query, any(f.multipart for f in forms)


# --- Plausible values, so that requests also get past validation into the services -------------

@dataclass(frozen=True)
class Known:
    """Plain values read from the world once, before any request changes it: plausible values
    per field name, dates, and the other member's ids."""

    by_name: dict[str, list[str]]
    days: list[str]
    foreign: tuple[str, ...]
    sku: str

    def plausible(self, name: str, kind: str) -> list[str]:
        values = list(self.by_name.get(name.split("-")[-1], []))
        return values + self.days if kind == "date" else values


def known_values(world: World) -> Known:
    today = company_today()
    days = [(today + timedelta(days=n)).isoformat() for n in (0, 1, 3, 10, 40, 45, 400)]
    by_name = {
        "email": [world.owner.email, f"new.{secrets.token_hex(3)}@example.test"],
        "password": [PASSWORD], "current": [PASSWORD], "new": [PASSWORD + "!"],
        "confirm": [PASSWORD, PASSWORD + "!"],
        "sponsor": [world.upline.member_number, world.owner.member_number],
        "first_name": ["Jane"], "last_name": ["Example"], "full_name": ["Jane Example"],
        "moniker": ["Office"], "line1": ["1 Main Street"], "line2": ["Apt 2"],
        "city": ["Springfield"], "region": ["IL"], "postal_code": ["62704"], "country": ["US"],
        "phone": ["555 0100"], "cardholder": ["Jane Example"],
        "number": ["4242 4242 4242 4242", "4000000000000002", "4000000000000119"],
        "exp_month": ["12"], "exp_year": [str(today.year + 2)], "cvc": ["123"],
        "name": ["Weekly basics"], "rrule": ["FREQ=MONTHLY;BYDAY=-1FR", "FREQ=WEEKLY;INTERVAL=2"],
        "interval": ["1", "2"], "day": ["15", "31", *days], "quantity": ["1", "3", "999"],
        "sku": [world.product.sku, "NEW-SKU-1"], "reference": ["PO-1"], "supplier": ["Acme"],
        "eaches": ["1", "12"], "on_hand": ["0", "50"], "note": ["pallet 3"],
        "as_of": days[:2], "each_price": ["9.99"], "each_pv": ["8"], "each_bv": ["6"],
        "case_size": ["12"], "case_price": ["99.00"], "lot_size": ["144"], "lot_price": ["999"],
        "description": ["A product."], "category": ["Test"],
        "as": [world.upline.member_number, world.ibo.member_number, world.owner.member_number],
        "after": [world.owner.tree_path or "", world.upline.tree_path or ""],
        "next": ["/autoship/", "//evil.example/", "/\tevil.example"],
        "product": [str(world.product.id)], "level": ["1", "2"], "size": ["1", "200", "201"],
        "next_from": days[:3], "next_to": days[3:], "first_date": days,
        "kind": ["every_weeks", "every_months", "monthly_day", "monthly_weekday", "monthly_workday",
                 "every_days", "rrule"],
        "nth": ["1", "-1"], "weekday": ["MO", "FR"], "weekdays": ["MO", "TH"], "regularity": ["calendar", "rolling"],
    }
    things = world.of(world.other)
    foreign = tuple(str(i) for i in dict.fromkeys((
        things.address.id, things.card.id, things.declining_card.id, things.cart_line.id,
        things.order.id, things.profile.id, things.item.id, things.failed_order.id,
        things.oneclick_order.id, things.oneclick_line.id, things.client.id, world.other.id)))
    return Known(by_name=by_name, days=days, foreign=foreign, sku=world.product.sku)


@dataclass(frozen=True)
class Paths:
    """A rule and its path naming the persona's own things and the other member's."""

    rule: Rule
    own: str
    other: str

    @classmethod
    def of(cls, rule: Rule, world: World) -> Paths:
        return cls(rule, url_for_rule(rule, world), url_for_rule(rule, world, owner=world.other))


# --- Requests ----------------------------------------------------------------------------------

def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}...({len(value)} long)"


@dataclass
class FuzzRequest:
    method: str
    path: str
    fields: list[tuple[str, str | bytes]] = field(default_factory=list)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, content)
    htmx: bool = False
    csrf: str = "form"  # form, header, missing or forged
    names: str = "own"  # whose ids the URL carries

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={_short(value)}" for name, value in self.fields)
        files = ", ".join(f"{name}=<{filename}: {_short(content)}>" for name, filename, content in self.files)
        return (f"{self.method} {_short(self.path)} [{fields}{'; ' + files if files else ''}] "
                f"htmx={self.htmx} csrf={self.csrf} ids={self.names}")


def _path_with(rule: Rule, arguments: dict) -> str:
    """``rule``'s path with each argument replaced by the given (possibly hostile) raw value."""
    placeholders = {name: 987654321000 + i if _is_int(rule, name) else f"PLACEHOLDER{i}X"
                    for i, name in enumerate(sorted(rule.arguments))}
    _, path = rule.build(placeholders)
    for name, placeholder in placeholders.items():
        path = path.replace(str(placeholder), quote_from_bytes(encode(arguments[name]), safe=""))
    return path


def _is_int(rule: Rule, name: str) -> bool:
    return isinstance(rule._converters[name], IntegerConverter)


HOSTILE_IDS = ("0", "2147483648", "9223372036854775808", "99999999999999999999999", "1" + "0" * 80)


def path_strategy(paths: Paths) -> st.SearchStrategy[tuple[str, str]]:
    """The rule's path naming the persona's own things (mostly), the other member's, or
    hostile values: (path, whose)."""
    rule = paths.rule
    if not rule.arguments:
        return st.just((paths.own, "own"))
    hostile = st.fixed_dictionaries({
        name: st.sampled_from(HOSTILE_IDS) if _is_int(rule, name) else hostile_text()
        for name in rule.arguments}).map(lambda args: (_path_with(rule, args), "hostile"))
    return st.one_of(st.just((paths.own, "own")), st.just((paths.own, "own")),
                     st.just((paths.other, "other's")), hostile)


ACTIONS = ["keep"] * 8 + ["drop", "twice"]


@st.composite
def fuzz_requests(draw, paths: Paths, known: Known, fields: dict[str, Field],
                  query: dict[str, list[str]], multipart: bool, method: str = "POST") -> FuzzRequest:
    path, whose = draw(path_strategy(paths))
    if query:
        pairs = [(name, draw(field_value("number", tuple(values)))) for name, values in query.items()]
        path += "?" + "&".join(f"{quote_from_bytes(encode(n), safe='')}="
                               f"{quote_from_bytes(encode(v), safe='')}" for n, v in pairs)
    request = FuzzRequest(method, path, names=whose, htmx=draw(st.booleans()),
                          csrf=draw(st.sampled_from(["form"] * 6 + ["header"] * 3 + ["missing", "forged"])))
    for name, spec in fields.items():
        action = draw(st.sampled_from(ACTIONS))
        if action == "drop":
            continue
        for _ in range(2 if action == "twice" else 1):
            if spec.kind == "file":
                content = draw(csv_content(known.sku))
                request.files.append((name, draw(st.sampled_from(["stock.csv", "x.txt", "../../a.csv"])),
                                      content))
            else:
                originals = tuple(spec.values) + tuple(known.plausible(name, spec.kind))
                request.fields.append((name, draw(field_value(spec.kind, originals, known.foreign))))
    if draw(st.integers(0, 9)) == 0:  # a field nobody asked for
        request.fields.append((draw(st.sampled_from(["user_id", "id", "role", "status", "price",
                                                     "csrf_token", "x"])), draw(hostile_text())))
    if multipart and not request.files and draw(st.booleans()):
        request.files.append(("file", "x.csv", b"SKU,1"))
    return request


def _query(pairs) -> str:
    return "&".join(f"{quote_from_bytes(encode(name), safe='')}={quote_from_bytes(encode(value), safe='')}"
                    for name, value in pairs)


def query_parameters(browser: Browser, endpoint: str, page: str, extra=()) -> dict[str, list[str]]:
    """The query parameters the page's own links, hx-get requests and GET forms use for this
    endpoint, with the values they carry, plus ``extra`` names."""
    response = browser.get(page)
    found: dict[str, list[str]] = {name: [] for name in extra}
    if response.status_code == 200 and "html" in response.content_type:
        for link in links_on(response.get_data(as_text=True), page):
            if endpoint_of(link, "GET") != endpoint:
                continue
            for name, value in parse_qsl(urlsplit(link).query, keep_blank_values=True):
                values = found.setdefault(name, [])
                if value not in values:
                    values.append(value)
    return found


@st.composite
def page_requests(draw, paths: Paths, known: Known, parameters: dict[str, list[str]]) -> FuzzRequest:
    path, whose = draw(path_strategy(paths))
    names = draw(st.lists(st.sampled_from(sorted(parameters)), max_size=5)) if parameters else []
    pairs = []
    for name in names:
        originals = tuple(parameters[name]) + tuple(known.plausible(name, "text"))
        kind = ("date" if "date" in name or name.startswith("next_") else
                "number" if any(v.isascii() and v.isdigit() for v in originals) else "text")
        pairs.append((name, draw(field_value(kind, originals))))
    if draw(st.integers(0, 9)) == 0:
        pairs.append((draw(hostile_text()), draw(hostile_text())))
    if pairs:
        path += ("&" if "?" in path else "?") + _query(pairs)
    return FuzzRequest("GET", path, fields=pairs, htmx=draw(st.booleans()), csrf="missing", names=whose)


def csv_content(sku: str) -> st.SearchStrategy[bytes]:
    row = st.one_of(st.just(f"{sku},12"), st.just(f"{sku},12,2030-01-01,PO-9"),
                    st.builds(lambda a, b: f"{a},{b}", st.sampled_from([sku, "NOPE", ""]), hostile_text().map(
                        lambda v: v if isinstance(v, str) else v.decode("utf-8", "replace"))),
                    st.just("sku,eaches,expected_date,reference"), hostile_text().map(
                        lambda v: v if isinstance(v, str) else v.decode("latin-1")),
                    # the tracking upload's rows: shipments guessed, carriers and numbers hostile
                    st.just("shipment,carrier,tracking_number,ship_date"),
                    st.builds(lambda ref, carrier, number, day: f"{ref},{carrier},{number},{day}",
                              st.sampled_from(["1", "SH00000001", "SO00000001", "SH99999999", "=1+1"]),
                              st.sampled_from(["UPS", "usps", "Acme Freight", "=cmd|' /C calc'!A0", ""]),
                              st.one_of(st.just("1Z999AA10123456784"), st.just('=HYPERLINK("http://x")'),
                                        hostile_text().map(lambda v: v if isinstance(v, str)
                                                           else v.decode("utf-8", "replace"))),
                              st.sampled_from(["2026-12-01", "2999-01-01", "", "yesterday"])))
    lines = st.lists(row, max_size=6).map(lambda rows: "\n".join(rows).encode("utf-8", "surrogatepass"))
    return st.one_of(lines, st.binary(max_size=200), st.just(b""), st.just(b"\xef\xbb\xbf" + f"{sku},1".encode()),
                     st.just(f"{sku},1\r\n".encode() * 6000))


def send(browser: Browser, request: FuzzRequest):
    if request.method == "GET":  # the fields are already in the path's query string
        return browser.get(request.path, headers={"HX-Request": "true"} if request.htmx else {})
    headers = {}
    fields = list(request.fields)
    token = {"form": browser.csrf, "header": browser.csrf, "missing": None,
             "forged": "IjEyMyI.forged.token"}[request.csrf]
    if token and request.csrf == "header":
        headers["X-CSRFToken"] = token
    elif token:
        fields.insert(0, ("csrf_token", token))
    if request.htmx:
        headers["HX-Request"] = "true"
    if request.files:
        body, content_type = _multipart(fields, request.files)
    else:
        body = _query(fields).encode()
        content_type = "application/x-www-form-urlencoded"
    return browser.client.open(request.path, method=request.method, data=body, buffered=True,
                               content_type=content_type, headers=headers)


def _multipart(fields, files) -> tuple[bytes, str]:
    boundary = f"fuzz{secrets.token_hex(8)}"
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                     + encode(value) + b"\r\n")
    for name, filename, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"

