"""What the HTTP tests of accounts, genealogy, addresses and payments share: more browsers,
and reading a rendered page the way a person would (messages beside fields, links, values)."""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import BrowserLikeClient


def new_browser(app, htmx: bool = False) -> BrowserLikeClient:
    """Another browser with its own cookies (its own session), like the ``client`` fixture."""
    browser = BrowserLikeClient(app, app.response_class, use_cookies=True)
    if htmx:
        browser.environ_base["HTTP_HX_REQUEST"] = "true"
    return browser


@pytest.fixture
def another_browser(app):
    return new_browser(app)


def error_beside(response, field_id: str) -> str:
    """The message shown beside a form field ('' when there is none)."""
    match = re.search(rf'<small class="field-error" id="{re.escape(field_id)}-error">(.*?)</small>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def header_links(response) -> set[str]:
    """The labels of the links and buttons in the page header (the navigation)."""
    header = re.search(r'<header class="site-header">(.*?)</header>',
                       response.get_data(as_text=True), re.S).group(1)
    labels = re.findall(r"<(?:a|button)\b[^>]*>\s*([^<]*?)\s*(?:<|$)", header)
    return {html.unescape(label) for label in labels if label}


def form_values(response) -> dict[str, str]:
    """The value="" of every input on the page, by name."""
    page = response.get_data(as_text=True)
    values = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        name = re.search(r'\bname="([^"]*)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if name:
            values[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return values


def follow(client, response, limit: int = 5):
    """Follow redirects one request at a time; the final response and the path it answered."""
    path = response.request.path
    while response.status_code in (301, 302, 303, 307, 308) and limit:
        path = response.headers["Location"]
        response, limit = client.get(path), limit - 1
    return response, path
