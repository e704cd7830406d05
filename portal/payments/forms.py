from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from portal.forms import IntegerField, PlainTextForm


class CardForm(PlainTextForm):
    cardholder = StringField("Name on card", validators=[DataRequired("Enter the name on the card."),
                                                         Length(max=120)])
    number = StringField("Card number", render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
                         validators=[DataRequired("Enter the card number."), Length(max=30)])
    exp_month = IntegerField("Expiry month", render_kw={"autocomplete": "cc-exp-month"}, validators=[
        InputRequired("Enter the expiry month."),
        NumberRange(min=1, max=12, message="The month is 1 to 12.")])
    exp_year = IntegerField("Expiry year", render_kw={"autocomplete": "cc-exp-year"}, validators=[
        InputRequired("Enter the expiry year."),
        NumberRange(min=2000, max=2100, message="Enter the four-digit year.")])
    cvc = PasswordField("Security code", render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
                        validators=[InputRequired("Enter the security code."), Length(max=4)])
    make_default = BooleanField("Use as my default card")
