from __future__ import annotations

import re
import secrets

from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from portal.forms import DateField, PlainTextForm
from portal.ids import coerce_id
from portal.retention.cancellation import LESS_OFTEN, MAX_DETAILS, REASONS

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
SAME_UNIT = ""  # the swap form's default unit: as the swap rule chooses
SWAP_UNIT_CHOICES = [SelectChoice(SAME_UNIT, "Keep the unit (or each)"), SelectChoice("each", "Each"),
                     SelectChoice("case", "Case"), SelectChoice("lot", "Lot")]


def new_key() -> str:
    """A fresh key for a form that must act once however often it is sent."""
    return secrets.token_urlsafe(24)


def checked_key(raw: str | None) -> str | None:
    """The form's key if it looks like one of ours, else None."""
    return raw if raw and KEY_PATTERN.fullmatch(raw) else None


class KeyedForm(PlainTextForm):
    key = HiddenField()

    def key_or_new(self) -> str:
        """The page's key; a request without a usable one still acts (once, as itself)."""
        return checked_key(self.key.data) or new_key()


class SwapForm(KeyedForm):
    product_id = SelectField("Swap for", coerce=coerce_id, validate_choice=False,
                             validators=[InputRequired("Choose a product.")])
    unit = SelectField("Unit", choices=SWAP_UNIT_CHOICES, default=SAME_UNIT)


class CancelForm(KeyedForm):
    reason = RadioField("Why do you want to cancel? (optional)", validate_choice=True, validators=[Optional()],
                        choices=[SelectChoice(code, r.label) for code, r in REASONS.items()])
    details = TextAreaField("Anything you would like to tell us? (optional)", validators=[
        Optional(), Length(max=MAX_DETAILS, message=f"Use at most {MAX_DETAILS} characters.")])


class OfferForm(CancelForm):
    offer = HiddenField(validators=[InputRequired("Choose one of the offers.")])  # the button pressed
    skip_day = DateField("Shipment to skip", validators=[Optional()])
    resume_on = DateField("Resume automatically on (optional)", validators=[Optional()])
    later_day = DateField("Next shipment on", validators=[Optional()])
    months = SelectField("Ship", coerce=int, validate_choice=False, validators=[Optional()],
                         choices=[SelectChoice(n, f"Every {n} months") for n in LESS_OFTEN])
    item_id = SelectField("Item", coerce=coerce_id, validate_choice=False, validators=[Optional()])
    product_id = SelectField("Swap for", coerce=coerce_id, validate_choice=False, validators=[Optional()])
    unit = SelectField("Unit", choices=SWAP_UNIT_CHOICES, default=SAME_UNIT)

    def day_for_offer(self):
        """The date field of the offer taken: the shipment skipped, the resume date, the new date."""
        return {"skip": self.skip_day, "pause": self.resume_on, "later": self.later_day}.get(
            self.offer.data, self.skip_day).data


class ReplacementForm(KeyedForm):
    product_id = SelectField("Product to replace", coerce=coerce_id, validate_choice=False,
                             validators=[InputRequired("Choose the product to replace.")])
    replacement_id = SelectField("Replace it by", coerce=coerce_id, validate_choice=False,
                                 validators=[InputRequired("Choose the product that replaces it.")])
    unit_code = SelectField("In the unit", choices=[SelectChoice("each", "Each"), SelectChoice("case", "Case"),
                                                    SelectChoice("lot", "Lot")], default="each")
