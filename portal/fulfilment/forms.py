from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp

from portal.forms import DateField, IntegerField, PlainTextForm
from portal.fulfilment.inventory_csv import MAX_EACHES

EACHES_RANGE = NumberRange(min=1, max=MAX_EACHES, message=f"1 to {MAX_EACHES:,} eaches.")


def _sku_field():
    return StringField("SKU", validators=[InputRequired("Enter a SKU."), Length(max=32),
                                          Regexp(r"^\s*[A-Za-z0-9-]+\s*$",
                                                 message="Letters, digits and dashes only.")],
                       render_kw={"list": "skus", "autocomplete": "off"})


class ReceiptForm(PlainTextForm):
    sku = _sku_field()
    eaches = IntegerField("Eaches received", validators=[InputRequired("Enter the eaches."), EACHES_RANGE])
    note = StringField("Note", validators=[Optional(), Length(max=200)])


class ArrivalForm(PlainTextForm):
    reference = StringField("Purchase order", validators=[
        InputRequired("Enter the purchase order's reference."), Length(max=40),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$",
               message="Letters, digits, spaces and . _ / # - only.")])
    supplier = StringField("Supplier", validators=[Optional(), Length(max=120)])
    expected_on = DateField("Expected on", validators=[InputRequired("Enter the expected date.")])
    sku = _sku_field()
    eaches = IntegerField("Eaches expected", validators=[InputRequired("Enter the eaches."), EACHES_RANGE])


class ReceiveLineForm(PlainTextForm):
    eaches = IntegerField("Eaches", validators=[InputRequired("Enter the eaches received."), EACHES_RANGE])


class CsvUploadForm(PlainTextForm):
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])


class ShipForm(PlainTextForm):
    """What left the warehouse: the checks themselves are ``portal.fulfilment.tracking``'s, so
    that the form and the CSV upload refuse the same things."""

    carrier = StringField("Carrier", validators=[InputRequired("Enter the carrier."), Length(max=40)],
                          render_kw={"list": "carriers", "autocomplete": "off"})
    numbers = TextAreaField("Tracking numbers", validators=[InputRequired("Enter the tracking number."),
                                                            Length(max=1000)],
                            description="One per line, or separated by commas: one per parcel.",
                            render_kw={"rows": 2, "autocomplete": "off", "spellcheck": "false"})
    shipped_on = DateField("Shipped on", validators=[InputRequired("Enter the day it shipped.")])
