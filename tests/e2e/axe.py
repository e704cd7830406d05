"""axe-core in the browser: the automated accessibility check of every main page."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

IMPACTS_THAT_FAIL = ("serious", "critical")


def axe_source() -> str:
    """axe-core, installed by ``make install`` into the venv's npm prefix (or $AXE_CORE)."""
    path = Path(os.environ.get("AXE_CORE") or Path(sys.prefix) / "npm" / "node_modules" / "axe-core"
                / "axe.min.js")
    if not path.exists():
        pytest.fail(f"axe-core is missing at {path}: run make install", pytrace=False)
    return path.read_text()


def axe_violations(page, rules: list[str] | None = None) -> list[dict]:
    """Runs axe-core on the page (evaluated through the DevTools protocol, which the portal's
    CSP does not govern) and returns its violations: of every rule, or of ``rules`` only."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    options = {"resultTypes": ["violations"], **({"runOnly": rules} if rules else {})}
    result = page.evaluate("async (options) => await axe.run(document, options)", options)
    return result["violations"]


def describe(violations: list[dict]) -> str:
    return "\n".join(
        f"  [{v['impact']}] {v['id']}: {v['help']} ({len(v['nodes'])} element(s)), e.g. "
        + "; ".join(node["html"][:160] for node in v["nodes"][:3])
        for v in violations)


def failing(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in IMPACTS_THAT_FAIL]


def assert_accessible(page, what: str | None = None) -> None:
    bad = failing(axe_violations(page))
    assert not bad, f"axe: serious or critical violations on {what or page.url}:\n{describe(bad)}"
