"""The forms a page offers, read from its HTML as a browser would: each ``<form>`` (or element
with ``hx-post``/``hx-put``/``hx-patch``/``hx-delete``) with its action, method and the names
of its inputs, selects, textareas and named buttons, with the values the page put there."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

HX_METHODS = {"hx-post": "POST", "hx-put": "PUT", "hx-patch": "PATCH", "hx-delete": "DELETE"}
ID_NAMES = {"person", "profile"}


@dataclass
class Field:
    name: str
    kind: str  # id, number, date, choice, checkbox, file, hidden, text
    values: list[str] = field(default_factory=list)

    def offer(self, value: str | None) -> None:
        if value is not None and value not in self.values:
            self.values.append(value)


@dataclass
class Form:
    action: str  # a path
    method: str
    fields: dict[str, Field] = field(default_factory=dict)
    htmx: bool = False
    multipart: bool = False

    def add(self, name: str, kind: str, value: str | None) -> None:
        if not name:
            return
        known = self.fields.get(name)
        if known is None:
            known = self.fields[name] = Field(name, kind_of(name, kind))
        known.offer(value)


def kind_of(name: str, html_kind: str) -> str:
    if name.endswith("_id") or name in ID_NAMES:
        return "id"
    return html_kind


INPUT_KINDS = {"number": "number", "date": "date", "checkbox": "checkbox", "radio": "choice",
               "file": "file", "hidden": "hidden"}


class _FormParser(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self.links: list[str] = []  # paths (with query) of links and hx-get requests
        self._form: Form | None = None
        self._select: str | None = None
        self._option: str | None = None
        self._option_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def _path(self, target: str | None) -> str:
        url = urljoin(self.page_url, target or self.page_url)
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        for attribute in ("href", "hx-get"):
            if a.get(attribute) and not a[attribute].startswith(("#", "mailto:", "javascript:")) \
                    and (attribute == "hx-get" or tag == "a"):
                self.links.append(self._path(a[attribute]))
        if tag == "form":
            hx = next(((m, a[attr]) for attr, m in HX_METHODS.items() if attr in a), None)
            method = hx[0] if hx else (a.get("method") or "get").upper()
            action = hx[1] if hx else a.get("action")
            self._form = Form(self._path(action), method, htmx=hx is not None,
                              multipart="multipart" in a.get("enctype", ""))
            self.forms.append(self._form)
            return
        if self._form is None:
            hx = next(((m, a[attr]) for attr, m in HX_METHODS.items() if attr in a), None)
            if hx:  # a button or link posting on its own
                self.forms.append(Form(self._path(hx[1]), hx[0], htmx=True))
            return
        name = a.get("name", "")
        if tag == "input":
            kind = INPUT_KINDS.get(a.get("type", "text").lower(), "text")
            if a.get("type", "").lower() in ("submit", "image", "reset"):
                kind = "choice"
            self._form.add(name, kind, a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "button" and name:
            self._form.add(name, "choice", a.get("value", ""))
        elif tag == "select":
            self._select = name
            self._form.add(name, "choice", None)
        elif tag == "option" and self._select:
            self._option, self._option_value, self._text = self._select, a.get("value"), []
        elif tag == "textarea":
            self._textarea, self._text = name, []

    def handle_data(self, data):
        if self._option or self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "option" and self._option and self._form is not None:
            value = self._option_value if self._option_value is not None else "".join(self._text).strip()
            self._form.add(self._option, "choice", value)
            self._option = None
        elif tag == "textarea" and self._textarea and self._form is not None:
            self._form.add(self._textarea, "text", "".join(self._text))
            self._textarea = None


def _parsed(html: str, page_url: str) -> _FormParser:
    parser = _FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser


def forms_on(html: str, page_url: str) -> list[Form]:
    return _parsed(html, page_url).forms


def links_on(html: str, page_url: str) -> list[str]:
    """Where the page's links, hx-get requests and GET forms lead: paths with query strings
    (a GET form's fields become its query)."""
    parser = _parsed(html, page_url)
    gets = [f"{form.action.split('?')[0]}?" + urlencode(
                [(name, value) for name, found in form.fields.items() for value in found.values or [""]])
            for form in parser.forms if form.method == "GET"]
    return parser.links + gets
