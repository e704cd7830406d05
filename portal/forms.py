"""What every form shares: plain text only, and refusals shown beside the field they concern."""

from __future__ import annotations

import re

from flask import flash
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from portal.errors import DomainError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
