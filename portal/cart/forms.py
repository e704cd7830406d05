from portal.forms import IntegerField, PlainTextForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange


class CartLineForm(PlainTextForm):
    unit = SelectField("Unit", choices=[SelectChoice("each", "Each"), SelectChoice("case", "Case"), SelectChoice("lot", "Lot")],
                       validate_choice=False)
    quantity = IntegerField("Quantity", validators=[
        InputRequired("Enter a quantity."),
        NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
