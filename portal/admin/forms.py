from portal.catalog.models import MAX_ON_HAND
from portal.forms import DecimalField, IntegerField, PlainTextForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp


class ProductForm(PlainTextForm):
    sku = StringField("SKU", validators=[InputRequired("Enter a SKU."), Length(max=32),
                                         Regexp(r"^[A-Za-z0-9-]+$", message="Letters, digits and dashes only.")])
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=120)])
    category = StringField("Category", validators=[Optional(), Length(max=60)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    each_price = DecimalField("Price per each", places=2, validators=[
        InputRequired("Enter the price."), NumberRange(min=0, max=100000, message="0 to 100,000.")])
    each_pv = DecimalField("PV per each", places=2, validators=[
        InputRequired("Enter the PV."), NumberRange(min=0, max=100000, message="0 to 100,000.")])
    each_bv = DecimalField("BV per each", places=2, validators=[
        InputRequired("Enter the BV."), NumberRange(min=0, max=100000, message="0 to 100,000.")])
    case_size = IntegerField("Eaches per case", validators=[Optional(), NumberRange(min=2, max=1000)])
    case_price = DecimalField("Case price", places=2, validators=[Optional(), NumberRange(min=0, max=1000000)])
    lot_size = IntegerField("Eaches per lot", validators=[Optional(), NumberRange(min=2, max=100000)])
    lot_price = DecimalField("Lot price", places=2, validators=[Optional(), NumberRange(min=0, max=10000000)])
    on_hand = IntegerField("Stock on hand (eaches)", default=0, validators=[
        InputRequired("Enter the stock."), NumberRange(min=0, max=MAX_ON_HAND)])


class StockForm(PlainTextForm):
    on_hand = IntegerField("On hand", validators=[InputRequired("Enter the stock on hand."),
                                                  NumberRange(min=0, max=MAX_ON_HAND,
                                                              message=f"0 to {MAX_ON_HAND:,} eaches.")])
