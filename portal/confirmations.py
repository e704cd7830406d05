"""The confirmation step before an action that charges money or reaches many people (Ship now,
cancelling a whole 1-Click order, withdrawing a product, replacing a calendar link).

It works without JavaScript: the action's own form posts without ``confirm=yes``, and the view
answers with ``ask_first``: a page that says what will happen, changes nothing, and carries a
form sending the same request again with ``confirm=yes``. Where htmx runs, the button asks with
``hx-confirm`` and sends ``confirm=yes`` itself (``hx-vals``), so the person confirms once."""

from __future__ import annotations

from htmx_flask import request

from portal.templating import render


def confirmed() -> bool:
    """Whether this request carries the person's confirmation."""
    return request.form.get("confirm") == "yes"


def ask_first(*, title: str, consequences: list[str], action: str, button: str, back: str,
              back_label: str = "No, go back", fields: dict[str, str] | None = None):
    """The confirmation page (or, for htmx, its fragment) of the action that posts to ``action``:
    ``consequences`` in plain sentences, ``button`` to go ahead (re-sending ``fields`` with
    ``confirm=yes``), and a link to ``back`` to leave things as they are."""
    return render("confirmations/page.html", "confirmations/_step.html", title=title,
                  consequences=consequences, action=action, button=button, back=back,
                  back_label=back_label, fields=fields or {})
