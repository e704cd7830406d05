from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange


class AddToCartForm(FlaskForm):
    product_id = HiddenField()
    unit = SelectField("Unit", choices=[("each", "Each"), ("case", "Case"), ("lot", "Lot")],
                       validate_choice=False)
    quantity = IntegerField("Quantity", default=1, validators=[
        InputRequired("Enter a quantity."),
        NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
