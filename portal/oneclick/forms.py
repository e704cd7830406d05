"""The shapes of 1-Click input. Ids and quantities are bounded here, so that no typed value
reaches the database as an out-of-range integer."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, InputRequired, NumberRange, Regexp

from portal.catalog.models import UnitCode
from portal.forms import IntegerField, form_messages
from portal.ids import MAX_ID, coerce_id
from portal.oneclick.rules import BUTTON_NOT_VALID, KEY_PATTERN



class PressForm(FlaskForm):
    """One press of a 1-Click button: the item, the unit and quantity, who is ordering (on a
    browser shared by several people), the button's idempotency key, and whether the button
    sits on a catalog card (a short confirmation fits it)."""

    product_id = IntegerField(validators=[
        InputRequired("Choose a product."),
        NumberRange(min=1, max=MAX_ID, message="Choose a product.")])
    unit = StringField(validators=[
        InputRequired("Choose a unit."),
        AnyOf(tuple(UnitCode), message="Choose each, case or lot.")])
    quantity = IntegerField(validators=[
        InputRequired("Enter a quantity from 1 to 999."),
        NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
    person = IntegerField(validators=[
        InputRequired("Choose who is ordering."),
        NumberRange(min=1, max=MAX_ID, message="Choose who is ordering.")])
    idempotency_key = StringField(validators=[InputRequired(BUTTON_NOT_VALID),
                                              Regexp(KEY_PATTERN, message=BUTTON_NOT_VALID)])
    compact = BooleanField()

    class Meta:
        csrf = False  # CSRFProtect has checked the token before any view runs

    def problems(self) -> str:
        """Every field's messages in field order, each told once."""
        return form_messages(self)


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
