from portal.forms import PlainTextForm
from portal.ids import coerce_id
from wtforms import HiddenField, RadioField, SelectMultipleField
from wtforms.validators import InputRequired, Length


class CheckoutForm(PlainTextForm):
    address_id = RadioField("Ship to", coerce=coerce_id, validate_choice=False,
                            validators=[InputRequired("Choose where to ship.")])
    card_id = RadioField("Pay with", coerce=coerce_id, validate_choice=False,
                         validators=[InputRequired("Choose a card.")])
    idempotency_key = HiddenField(validators=[InputRequired(), Length(min=16, max=80)])
    # Cart lines ("product:unit") to pay with points; lines no longer in the cart are ignored.
    points_items = SelectMultipleField("Pay with points", choices=[], validate_choice=False)
