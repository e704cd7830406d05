from portal.forms import PlainTextForm
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired, Length


class CheckoutForm(PlainTextForm):
    address_id = RadioField("Ship to", coerce=int, validate_choice=False,
                            validators=[InputRequired("Choose where to ship.")])
    card_id = RadioField("Pay with", coerce=int, validate_choice=False,
                         validators=[InputRequired("Choose a card.")])
    idempotency_key = HiddenField(validators=[InputRequired(), Length(min=16, max=80)])
