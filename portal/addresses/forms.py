from wtforms import BooleanField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from portal.addresses.models import CityName, Moniker, RecipientName, RegionName, StreetLine
from portal.forms import PlainTextForm, required_text


class AddressForm(PlainTextForm):
    moniker = required_text("Name for this address", "Give the address a name, like Home.",
                            max_length=Moniker.length,
                            too_long=f"At most {Moniker.length} characters.",
                            description='For example "Home" or "Office".')
    full_name = required_text("Recipient", "Enter who receives the parcel.",
                              max_length=RecipientName.length)
    line1 = required_text("Street address", "Enter the street address.",
                          max_length=StreetLine.length)
    line2 = StringField("Apartment, suite (optional)",
                        validators=[Optional(), Length(max=StreetLine.length)])
    city = required_text("City", "Enter the city.", max_length=CityName.length)
    region = required_text("State or region", "Enter the state or region.",
                           max_length=RegionName.length)
    postal_code = StringField("ZIP or postal code", validators=[
        InputRequired("Enter the ZIP or postal code."),
        Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,18}$", message="Enter a valid ZIP or postal code.")])
    country = StringField("Country code", default="US", validators=[
        InputRequired("Enter the two-letter country code."),
        Regexp(r"^[A-Za-z]{2}$", message="Use the two-letter country code, like US.")])
    phone = StringField("Phone (optional)", validators=[
        Optional(), Regexp(r"^[0-9+() .-]{5,30}$", message="Enter a valid phone number.")])
    make_default = BooleanField("Use as my default address")
