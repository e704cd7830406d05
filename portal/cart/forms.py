from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange


class CartLineForm(FlaskForm):
    unit = SelectField("Unit", choices=[("each", "Each"), ("case", "Case"), ("lot", "Lot")],
                       validate_choice=False)
    quantity = IntegerField("Quantity", validators=[
        InputRequired("Enter a quantity."),
        NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
