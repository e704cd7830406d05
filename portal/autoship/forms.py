from __future__ import annotations

from portal.forms import DateField, IntegerField, PlainTextForm
from portal.ids import MAX_ID, coerce_id
from wtforms import BooleanField, HiddenField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.autoship import schedule_kinds as kinds
from portal.autoship.one_time import BUTTON_NOT_VALID as NEXT_SHIPMENT_BUTTON_NOT_VALID
from portal.catalog.models import UnitCode
from portal.oneclick.rules import KEY_PATTERN
from portal.autoship.recurrence import Recurrence
from portal.autoship.rule_text import WEEKDAY_CODES, WEEKDAY_NAMES

UNIT_CHOICES = [SelectChoice("each", "Each"), SelectChoice("case", "Case"), SelectChoice("lot", "Lot")]
KIND_CHOICES = [
    SelectChoice(kinds.EVERY_WEEKS, "Every N weeks, on chosen weekdays"),
    SelectChoice(kinds.EVERY_MONTHS, "Every N months, on the first date's day"),
    SelectChoice(kinds.MONTHLY_DAY, "Monthly on a day of the month (e.g. the 15th)"),
    SelectChoice(kinds.MONTHLY_WEEKDAY, "Monthly on a weekday (e.g. the 2nd Tuesday)"),
    SelectChoice(kinds.MONTHLY_WORKDAY, "Monthly on a working day (e.g. the last weekday)"),
    SelectChoice(kinds.EVERY_DAYS, "Every N days"),
    SelectChoice(kinds.CUSTOM, "Custom rule (RFC 5545 RRULE)"),
]
NTH_CHOICES = [SelectChoice(str(n), label) for n, label in (
    (1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (-1, "last"))]
WEEKDAY_CHOICES = [SelectChoice(code, name) for code, name in zip(WEEKDAY_CODES, WEEKDAY_NAMES)]
REGULARITY_CHOICES = [SelectChoice("calendar", "Calendar: keep to the pattern"),
                      SelectChoice("rolling", "Rolling: count from my last order")]


class WeekdayBoxes(SelectMultipleField):
    """Weekdays as a row of checkboxes; none ticked is a choice too (the first date's weekday)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleFields(PlainTextForm):
    kind = SelectField("Repeat", choices=KIND_CHOICES, default=kinds.EVERY_MONTHS)
    interval = IntegerField("Every", default=1, validators=[
        Optional(), NumberRange(min=1, max=366, message="Enter a number from 1 to 366.")])
    day = IntegerField("Day of the month", default=1, validators=[
        Optional(), NumberRange(min=1, max=31, message="Enter a day from 1 to 31 (29-31: or the month's last day).")])
    nth = SelectField("Which", choices=NTH_CHOICES, default="1")
    weekday = SelectField("Weekday", choices=WEEKDAY_CHOICES, default="MO")
    weekdays = WeekdayBoxes("On", choices=WEEKDAY_CHOICES, default=())
    rrule = StringField("RRULE", validators=[Optional(), Length(max=200)])
    regularity = RadioField("Regularity", choices=REGULARITY_CHOICES, default="calendar")
    first_date = DateField("First (or next) date", validators=[
        InputRequired("Choose the date of the first shipment.")])

    def choice(self) -> kinds.ScheduleChoice:
        """The schedule kind and the values of its fields, as typed."""
        return kinds.ScheduleChoice(
            self.kind.data, interval=self.interval.data or 1, day=self.day.data or 0,
            nth=int(self.nth.data or 1), weekday=self.weekday.data or "MO",
            weekdays=tuple(self.weekdays.data or ()), rrule=self.rrule.data or "")

    def rule(self) -> Recurrence:
        """The recurrence these fields describe; ValueError with a readable message if none."""
        if self.kind.data == kinds.MONTHLY_DAY and not self.day.data:
            raise ValueError("Enter the day of the month.")
        return self.choice().rule()


def schedule_fields_for(rrule: str) -> dict:
    """The editor's field values for a stored rule: its own kind and values, so the editor
    reopens speaking the rule's words; the RRULE text is kept for "Custom" (also when the
    stored text no longer parses, so the person sees it and can replace it)."""
    try:
        choice = kinds.choice_for(Recurrence.parse(rrule))
    except ValueError:
        return {"kind": kinds.CUSTOM, "rrule": rrule}
    return {"kind": choice.kind, "interval": choice.interval, "day": choice.day, "nth": str(choice.nth),
            "weekday": choice.weekday, "weekdays": list(choice.weekdays), "rrule": str(choice.rule())}


class ScheduleForm(ScheduleFields):
    pass


class ItemForm(PlainTextForm):
    product_id = SelectField("Product", coerce=coerce_id, validate_choice=False,
                             validators=[InputRequired("Choose a product.")])
    # The chosen product's own units, set by the view; one it does not sell is refused by the
    # service, beside this field.
    unit = SelectField("Unit", choices=(), validate_choice=False)
    quantity = IntegerField("Quantity", default=1, validators=[
        InputRequired("Enter a quantity."), NumberRange(min=1, max=999, message="Enter 1 to 999.")])


class DeliveryFields(PlainTextForm):
    address_id = SelectField("Ship to", coerce=coerce_id, validate_choice=False,
                             validators=[InputRequired("Choose an address.")])
    card_id = SelectField("Pay with", coerce=coerce_id, validate_choice=False,
                          validators=[InputRequired("Choose a card.")])
    shipping_method = SelectField("Shipping", choices=[SelectChoice("standard", "Standard (3-5 days)"),
                                                       SelectChoice("express", "Express (1-2 days)")])
    price_policy = SelectField("Price", choices=[
        SelectChoice("run_time", "The price on each shipment date"),
        SelectChoice("locked", "Locked when each item was added")])


class NewProfileForm(ScheduleFields, ItemForm, DeliveryFields):
    name = StringField("Name", default="Monthly essentials", validators=[
        InputRequired("Give the standing order a name."), Length(max=80)])


class ItemChangeForm(PlainTextForm):
    unit = SelectField("Unit", choices=UNIT_CHOICES, validate_choice=False)
    quantity = IntegerField("Quantity", validators=[
        InputRequired("Enter a quantity."), NumberRange(min=1, max=999, message="Enter 1 to 999.")])


class NextDateForm(PlainTextForm):
    new_date = DateField("New date", validators=[InputRequired("Choose a date.")])
    mode = RadioField("Apply", default="once", choices=[
        SelectChoice("once", "This shipment only"),
        SelectChoice("anchor", "From now on (move the whole schedule)")])


class DayForm(PlainTextForm):
    day = DateField("Date", validators=[InputRequired("Choose a date.")])


class PauseForm(PlainTextForm):
    resume_on = DateField("Resume automatically on (optional)", validators=[Optional()])


class ResumeDateForm(PlainTextForm):
    resume_on = DateField("Resume automatically on", validators=[
        InputRequired("Choose the date it resumes on.")])


class DeliveryForm(DeliveryFields):
    out_of_stock_policy = SelectField("If an item is out of stock", choices=[
        SelectChoice("backorder", "Ship the rest now, that item when it arrives"),
        SelectChoice("skip_item", "Leave it out of that shipment")])


class RenameForm(PlainTextForm):
    name = StringField("Name", validators=[InputRequired("Enter a name."), Length(max=80)])


class SubscribeForm(PlainTextForm):
    product_id = HiddenField()
    unit = SelectField("Unit", choices=UNIT_CHOICES, validate_choice=False)
    quantity = IntegerField("Quantity", default=1, validators=[
        InputRequired("Enter a quantity."), NumberRange(min=1, max=999, message="Enter 1 to 999.")])
    profile = SelectField("Add to", validate_choice=False, default="new")


class NextShipmentForm(PlainTextForm):
    """One press of "Add to my next autoship": the item, its unit and quantity (1 unless
    chosen), the standing order when the person chose one, and the button's idempotency key."""

    product_id = IntegerField(validators=[
        InputRequired("Choose a product."), NumberRange(min=1, max=MAX_ID, message="Choose a product.")])
    unit = StringField(default="each", validators=[
        InputRequired("Choose a unit."), AnyOf(tuple(UnitCode), message="Choose each, case or lot.")])
    quantity = IntegerField(default=1, validators=[
        Optional(), NumberRange(min=1, max=999, message="Enter a quantity from 1 to 999.")])
    profile = IntegerField(validators=[
        Optional(), NumberRange(min=1, max=MAX_ID, message="Choose a standing order.")])
    idempotency_key = StringField(validators=[InputRequired(NEXT_SHIPMENT_BUTTON_NOT_VALID),
                                              Regexp(KEY_PATTERN, message=NEXT_SHIPMENT_BUTTON_NOT_VALID)])
    compact = BooleanField()

    class Meta:
        csrf = False  # CSRFProtect has checked the token before any view runs
