from portal.forms import PlainTextForm
from portal.ids import coerce_id
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired, Length


class CheckoutForm(PlainTextForm):
    address_id = RadioField("Ship to", coerce=coerce_id, validate_choice=False,
                            validators=[InputRequired("Choose where to ship.")])
    card_id = RadioField("Pay with", coerce=coerce_id, validate_choice=False,
                         validators=[InputRequired("Choose a card.")])
    idempotency_key = HiddenField(validators=[InputRequired(), Length(min=16, max=80)])
