"""Static files under content-hashed URLs: a page names each asset with its version, a
versioned request is cached for a year, and a changed file gets a new URL."""

from __future__ import annotations

import hashlib
import os
import re

from portal import PROJECT_ROOT
from portal.static_assets import static_url

ASSET = re.compile(r'(?:href|src)="(/static/([^"?]+)\?v=([0-9a-f]+))"')
FOR_A_YEAR = {"public", "max-age=31536000", "immutable"}


def directives(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",")}


def test_a_page_names_every_asset_with_the_hash_of_its_content(client):
    html = client.get("/login").get_data(as_text=True)

    assets = ASSET.findall(html)
    assert {name for _, name, _ in assets} == {"favicon.ico", "vendor/pico.min.css", "css/portal.css",
                                              "vendor/htmx.min.js", "js/htmx-errors.js"}
    assert re.findall(r'(?:href|src)="/static/[^"?]+"', html) == []  # none without its version
    for _, name, version in assets:
        content = (PROJECT_ROOT / "static" / name).read_bytes()
        assert version == hashlib.sha256(content).hexdigest()[:12], name


def test_a_versioned_asset_is_kept_a_year_and_an_unversioned_one_revalidated(client):
    url, name, _ = ASSET.search(client.get("/login").get_data(as_text=True)).groups()

    versioned = client.get(url)
    assert versioned.status_code == 200
    assert versioned.data == (PROJECT_ROOT / "static" / name).read_bytes()
    assert directives(versioned) == FOR_A_YEAR
    for other in (f"/static/{name}", f"/static/{name}?v=0123456789ab"):  # no version, an old one
        answer = client.get(other)
        assert answer.status_code == 200 and "immutable" not in directives(answer), other
        assert "no-cache" in directives(answer), other


def test_changing_a_file_changes_its_url(app, client, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    stylesheet = tmp_path / "site.css"
    stylesheet.write_text("body { color: black }")
    with app.test_request_context():
        before = static_url("site.css")

    stylesheet.write_text("body { color: navy }")
    # edited a second later, as an edit comes after the file it changes
    os.utime(stylesheet, ns=(stylesheet.stat().st_atime_ns, stylesheet.stat().st_mtime_ns + 1_000_000_000))
    with app.test_request_context():
        after = static_url("site.css")

    assert before != after and after.startswith("/static/site.css?v=")
    answer = client.get(after)
    assert answer.data == b"body { color: navy }" and directives(answer) == FOR_A_YEAR
    assert "immutable" not in directives(client.get(before))  # the old version is no longer kept
