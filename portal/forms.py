"""What every form shares: showing a refused request beside the field it concerns."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from portal.errors import DomainError


def show_beside_field(form: FlaskForm, error: DomainError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")
