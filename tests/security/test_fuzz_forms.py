"""Random and hostile values posted into every form and htmx endpoint: never a 500, and when the
answer is an error (a 4xx, or a redirect to a page saying why not), nothing changed (database
rows and Redis keys alike). Requests from the
owner never change anything of the other member's, whatever ids they carry.

The targets come from the URL map: every route accepting an unsafe method must be listed in
tests/security/fuzz_targets.py. ``FUZZ_EXAMPLES=300`` runs deeper.
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.security.fuzz_targets import TARGETS, Target, is_fuzzed_elsewhere
from tests.security.fuzzing import (UNSAFE_METHODS, Browser, Field, Paths, forms_for, fuzz_requests,
                                    fuzz_settings, known_values, merged_fields, page_path, send)
from tests.security.snapshot import owned_rows, take_snapshot

EXAMPLES = 25


def unsafe_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if rule.methods & UNSAFE_METHODS and rule.endpoint != "static"]


def test_every_unsafe_route_is_fuzzed(app):
    missing = sorted(f"{sorted(rule.methods & UNSAFE_METHODS)} {rule.rule} ({rule.endpoint})"
                     for rule in unsafe_rules(app)
                     if rule.endpoint not in TARGETS and not is_fuzzed_elsewhere(rule.endpoint))
    assert not missing, ("These routes accept unsafe methods but have no fuzz target; add each to "
                         "TARGETS in tests/security/fuzz_targets.py (who may use it, and the page "
                         "that shows its form, or its fields):\n  " + "\n  ".join(missing))
    stale = sorted(set(TARGETS) - {rule.endpoint for rule in unsafe_rules(app)})
    assert not stale, f"fuzz targets for routes that no longer exist: {stale}"


def target_form(app, world, target: Target) -> tuple[Browser, dict[str, Field], dict, bool]:
    browser = Browser(app, world, target.persona, oneclick_cookie=target.browser)
    if target.fields is not None:
        return browser, {name: Field(name, kind) for name, kind in target.fields.items()}, {}, False
    pages = [page_path(spec, world) for spec in target.pages]
    forms = forms_for(browser, target.endpoint, pages)
    assert forms, (f"no form posting to {target.endpoint} on {pages} as {target.persona}: the page "
                   "changed; fix its entry in tests/security/fuzz_targets.py")
    return (browser, *merged_fields(forms))


@pytest.mark.parametrize("endpoint", sorted(TARGETS))
def test_hostile_input_never_breaks_a_form(app, world, relaxed_rate_limits, endpoint):
    target = TARGETS[endpoint]
    browser, fields, query, multipart = target_form(app, world, target)
    rule = next(app.url_map.iter_rules(endpoint))
    method = sorted(rule.methods & UNSAFE_METHODS)[0]
    pages = [page_path(spec, world) for spec in target.pages]
    guard_other = target.persona == "owner" or target.browser
    redis_url = app.config["REDIS_URL"]
    other_before = owned_rows(world.other.id)
    last = {}  # the snapshot after a refused request: nothing ran since, so it is the next "before"

    @fuzz_settings(EXAMPLES)
    @given(request=fuzz_requests(Paths.of(rule, world), known_values(world), fields, query,
                                 multipart, method))
    def post(request):
        before = last.pop("snapshot", None) or take_snapshot(redis_url)
        response = send(browser, request)
        status = response.status_code
        assert status < 500, f"{status} for {request!r}"
        refused = status >= 400 or browser.flashed_errors()  # or a redirect saying why not
        if refused:
            after = take_snapshot(redis_url)
            changes = before.differences(after)
            assert not changes, f"{status} for {request!r} {browser.flashed_errors()}, yet: {changes}"
            if status >= 400:
                last["snapshot"] = after
        if status < 400:
            browser.still_works(pages)
        if guard_other and not refused:  # (a refusal changed nothing at all, as just shown)
            changed = {name for name, digest in owned_rows(world.other.id).items()
                       if other_before[name] != digest}
            assert not changed, f"{status} for {request!r} changed the other member's {changed}"

    post()
