"""What every form shares: plain text only, numbers and dates as people write them, and
refusals shown beside the field they concern."""

from __future__ import annotations

import re
from datetime import date

import wtforms
from flask import flash
from flask_wtf import FlaskForm
from wtforms.validators import DataRequired, Length, ValidationError

from portal.errors import DomainError
from portal.numbers import WHOLE_NUMBER

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
DECIMAL_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,300}(?:\.[0-9]{0,300})?|\.[0-9]{1,300})")
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fromisoformat() also reads 20261201


class IntegerField(wtforms.IntegerField):
    """A whole number in ASCII digits. Python's int() also takes '١٢', '1_000' and numbers of
    any size, and WTForms' NumberRange then crashes on one too large for a float: those are
    refused beside the field instead. (Its validators give the range.)"""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0] and not WHOLE_NUMBER.fullmatch(valuelist[0].strip()):
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value."))
        super().process_formdata(valuelist)


class DecimalField(wtforms.DecimalField):
    """A plain decimal number: no NaN, no infinity, no exponent (a signalling NaN crashes
    NumberRange; '1e999999999' is no price)."""

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0] and not DECIMAL_NUMBER.fullmatch(valuelist[0].strip()):
            self.data = None
            raise ValueError(self.gettext("Not a valid decimal value."))
        super().process_formdata(valuelist)


DATE_OUT_OF_RANGE = f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}."


class DateField(wtforms.DateField):
    """A date between 1900 and 2199: nothing this portal schedules lies outside, and date
    arithmetic near year 1 or 9999 overflows."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, date) and not EARLIEST_YEAR <= self.data.year <= LATEST_YEAR:
            self.data = None
            raise ValueError(DATE_OUT_OF_RANGE)


def parse_date(raw: str) -> date:
    """A date written YYYY-MM-DD within DateField's years, for a date outside a form (a query
    parameter, a command option); ValueError with the message to show otherwise."""
    try:
        day = date.fromisoformat(raw.strip()) if DATE_PATTERN.fullmatch(raw.strip()) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError("Enter a date as YYYY-MM-DD.")
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError(DATE_OUT_OF_RANGE)
    return day


def required_text(label: str, missing: str, *, max_length: int, too_long: str | None = None,
                  **options) -> wtforms.StringField:
    """A text field that must be filled in, ``missing`` shown when it is not. DataRequired, not
    InputRequired: a field of blanks is as empty as no field at all. ``too_long`` replaces
    WTForms' message for more than ``max_length`` characters."""
    return wtforms.StringField(label, validators=[DataRequired(missing),
                                                  Length(max=max_length, message=too_long)],
                               **options)


def no_control_characters(form, field) -> None:
    if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError("Remove the control characters from this field.")


class PlainTextForm(FlaskForm):
    """A form whose fields refuse control characters, typed or posted. Nobody types them, and
    PostgreSQL cannot store NUL at all: letting one through would turn a typing accident into
    a 500."""

    def validate(self, extra_validators=None):
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name in self._fields:
            extra.setdefault(name, []).append(no_control_characters)
        return super().validate(extra)


def show_beside_field(form: FlaskForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def form_messages(form: FlaskForm) -> str:
    """Every field's messages in field order, each told once: for answers that show no form,
    such as an error page or a flash message."""
    return " ".join(dict.fromkeys(message for messages in form.errors.values() for message in messages))
