from wtforms import BooleanField, PasswordField
from wtforms.validators import InputRequired, Length, NumberRange

from portal.forms import IntegerField, PlainTextForm, required_text


class CardForm(PlainTextForm):
    cardholder = required_text("Name on card", "Enter the name on the card.", max_length=120)
    number = required_text("Card number", "Enter the card number.", max_length=30,
                           render_kw={"autocomplete": "cc-number", "inputmode": "numeric"})
    exp_month = IntegerField("Expiry month", render_kw={"autocomplete": "cc-exp-month"}, validators=[
        InputRequired("Enter the expiry month."),
        NumberRange(min=1, max=12, message="The month is 1 to 12.")])
    exp_year = IntegerField("Expiry year", render_kw={"autocomplete": "cc-exp-year"}, validators=[
        InputRequired("Enter the expiry year."),
        NumberRange(min=2000, max=2100, message="Enter the four-digit year.")])
    cvc = PasswordField("Security code", render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
                        validators=[InputRequired("Enter the security code."), Length(max=4)])
    make_default = BooleanField("Use as my default card")
