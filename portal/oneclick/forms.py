"""The shapes of 1-Click input. Ids and quantities are bounded here, so that no typed value
reaches the database as an out-of-range integer."""

import re
from dataclasses import dataclass

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, HiddenField, SelectField
from wtforms.validators import InputRequired

from portal.catalog.models import UnitCode
from portal.forms import WHOLE_NUMBER
from portal.ids import MAX_ID, coerce_id

KEY_REGEXP = r"^[A-Za-z0-9_-]{16,80}$"
KEY_PATTERN = re.compile(KEY_REGEXP)
BUTTON_NOT_VALID = "This 1-Click button is not valid. Reload the page and try again."
_UNIT_CODES = frozenset(UnitCode)


@dataclass(frozen=True)
class PressInput:
    """One press of a 1-Click button: the item, the unit and quantity, who is ordering (on a
    browser shared by several people), the button's idempotency key, and whether the button
    sits on a catalog card (a short confirmation fits it)."""

    product_id: int
    unit: str
    quantity: int
    person: int
    idempotency_key: str
    compact: bool


class InvalidPress(ValueError):
    """What is wrong with a press's input, in the words a form would put beside its fields."""


def read_press(formdata: MultiDict) -> PressInput:
    """The press in a submitted 1-Click form, checked field by field as a WTForms form with
    these fields would check them (the same rules and messages, every field's in field order).

    A plain reader, not a form class: a press is the portal's hottest request, and binding
    six WTForms fields cost a tenth of its CPU."""
    problems: list[str] = []
    product_id = _whole_number(formdata, "product_id", MAX_ID, "Choose a product.", problems)
    unit = formdata.get("unit")
    if not unit:
        problems.append("Choose a unit.")
    elif unit not in _UNIT_CODES:
        problems.append("Choose each, case or lot.")
    quantity = _whole_number(formdata, "quantity", 999, "Enter a quantity from 1 to 999.",
                             problems)
    person = _whole_number(formdata, "person", MAX_ID, "Choose who is ordering.", problems)
    key = formdata.get("idempotency_key")
    if not key or not KEY_PATTERN.match(key):
        problems.append(BUTTON_NOT_VALID)
    if problems:
        raise InvalidPress(" ".join(dict.fromkeys(problems)))
    return PressInput(product_id=product_id, unit=unit, quantity=quantity, person=person,
                      idempotency_key=key,
                      compact=formdata.get("compact", "") not in ("", "false"))


def _whole_number(formdata: MultiDict, name: str, highest: int, message: str,
                  problems: list[str]) -> int | None:
    """As portal.forms.IntegerField with InputRequired(message) and NumberRange(1, highest,
    message) would read it."""
    raw = formdata.get(name)
    if not raw:
        problems.append(message)
        return None
    if not WHOLE_NUMBER.fullmatch(raw.strip()):
        problems += ["Not a valid integer value.", message]
        return None
    number = int(raw)
    if not 1 <= number <= highest:
        problems.append(message)
        return None
    return number


class SettingsForm(FlaskForm):
    address_id = SelectField("Ship to", coerce=coerce_id, validate_choice=True,
                             validators=[InputRequired("Choose where 1-Click orders ship to.")])
    card_id = SelectField("Pay with", coerce=coerce_id, validate_choice=True,
                          validators=[InputRequired("Choose the card 1-Click orders are charged to.")])
    keyboard_shortcut = BooleanField("Keyboard shortcut: Shift+B orders the item in view "
                                     "(or the one focused in a list)")
    voice_action = BooleanField('Voice: say "buy now" to order, where the browser can listen')
    next = HiddenField()


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token (turn off, cancel, use an order's details)."""
