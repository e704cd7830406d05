from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from portal.forms import PlainTextForm


class AddressForm(PlainTextForm):
    # DataRequired where a field of blanks would pass: blanks are as empty as no field at all.
    moniker = StringField("Name for this address", description='For example "Home" or "Office".',
                          validators=[DataRequired("Give the address a name, like Home."),
                                      Length(max=40, message="At most 40 characters.")])
    full_name = StringField("Recipient", validators=[DataRequired("Enter who receives the parcel."),
                                                     Length(max=120)])
    line1 = StringField("Street address", validators=[DataRequired("Enter the street address."),
                                                      Length(max=120)])
    line2 = StringField("Apartment, suite (optional)", validators=[Optional(), Length(max=120)])
    city = StringField("City", validators=[DataRequired("Enter the city."), Length(max=80)])
    region = StringField("State or region", validators=[DataRequired("Enter the state or region."),
                                                        Length(max=80)])
    postal_code = StringField("ZIP or postal code", validators=[
        InputRequired("Enter the ZIP or postal code."),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,18}$", message="Enter a valid ZIP or postal code.")])
    country = StringField("Country code", default="US", validators=[
        InputRequired("Enter the two-letter country code."),
        Regexp(r"^[A-Za-z]{2}$", message="Use the two-letter country code, like US.")])
    phone = StringField("Phone (optional)", validators=[
        Optional(), Regexp(r"^[0-9+() .-]{5,30}$", message="Enter a valid phone number.")])
    make_default = BooleanField("Use as my default address")
