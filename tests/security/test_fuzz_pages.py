"""Hostile query strings (filters, searches, cursors, page numbers, ids in the path) on every
page, as each persona that uses it: never a 500.

Every GET route must be listed in PAGE_PERSONAS (tests/security/fuzz_targets.py).
"""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.security.fuzz_targets import (BROWSER_PAGES, COMMON_PARAMETERS, EXTRA_PARAMETERS,
                                         PAGE_PERSONAS, is_fuzzed_elsewhere)
from tests.security.fuzzing import (Browser, Paths, fuzz_settings, known_values, page_requests,
                                    query_parameters, send)

EXAMPLES = 15
CASES = sorted((endpoint, persona) for endpoint, personas in PAGE_PERSONAS.items()
               for persona in personas)


def test_every_page_is_fuzzed(app):
    pages = {rule.endpoint for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and rule.endpoint != "static"
             and not is_fuzzed_elsewhere(rule.endpoint)}
    missing = sorted(pages - set(PAGE_PERSONAS))
    assert not missing, ("These pages have no entry in PAGE_PERSONAS (tests/security/fuzz_targets.py); "
                         f"add each with the personas that use it: {missing}")
    assert not set(PAGE_PERSONAS) - pages, f"entries for pages that no longer exist: {set(PAGE_PERSONAS) - pages}"


@pytest.mark.parametrize(("endpoint", "persona"), CASES)
def test_hostile_query_strings_never_break_a_page(app, world, endpoint, persona):
    browser = Browser(app, world, persona, oneclick_cookie=endpoint in BROWSER_PAGES)
    rule = next(r for r in app.url_map.iter_rules(endpoint) if "GET" in r.methods)
    paths = Paths.of(rule, world)
    parameters = query_parameters(browser, endpoint, paths.own,
                                  COMMON_PARAMETERS + EXTRA_PARAMETERS.get(endpoint, ()))

    @fuzz_settings(EXAMPLES)
    @given(request=page_requests(paths, known_values(world), parameters))
    def get(request):
        response = send(browser, request)
        assert response.status_code < 500, f"{response.status_code} for {request!r}"

    get()
