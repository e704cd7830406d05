"""Reading a confirmation step (portal/confirmations.py) as a browser without JavaScript does:
its form's action and the fields it sends when the person says yes."""

from __future__ import annotations

import html
import re

STEP = re.compile(r'<article class="confirmation".*?</article>', re.S)


def confirmation_form(markup: str) -> tuple[str, dict[str, str]]:
    """(action, fields) of the confirmation step's "yes" form in ``markup``."""
    step = STEP.search(markup)
    assert step, "no confirmation step on the page"
    action = re.search(r'<form method="post" action="([^"]+)"', step.group(0)).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', step.group(0)))
    return html.unescape(action), {name: html.unescape(value) for name, value in fields.items()}
