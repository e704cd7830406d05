"""The confirmation step before an action that charges money or reaches many people (Ship now,
cancelling a whole 1-Click order, withdrawing a product, replacing a calendar link).

It works without JavaScript: the action's own form posts without ``confirm=yes``, and the view
answers with ``ask_first``: a page that says what will happen, changes nothing, and carries a
form sending the same request again with ``confirm=yes``. Where htmx runs, the button asks with
``hx-confirm`` and sends ``confirm=yes`` itself (``hx-vals``), so the person confirms once."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Question:
    """One concept's question before an action: what ``ask_first`` shows, kept as a value so
    that the questions of several concepts about the same action become one page."""
    title: str
    consequences: list[str]
    action: str
    button: str
    back: str
    back_label: str = "No, go back"
    fields: dict[str, str] = field(default_factory=dict)


def ask_all(*questions: Question | None):
    """One confirmation page for every question asked (None: that concept has nothing to ask),
    or None when nobody asks. The first question gives the title and the buttons; every
    question's consequences are listed, so that confirming once confirms what each said."""
    asked = [q for q in questions if q is not None]
    if not asked:
        return None
    first = asked[0]
    return ask_first(title=first.title, consequences=[c for q in asked for c in q.consequences],
                     action=first.action, button=first.button, back=first.back,
                     back_label=first.back_label,
                     fields={name: value for q in reversed(asked) for name, value in q.fields.items()})
