import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, ValidationError

from portal.accounts.passwords import MAX_LENGTH, MIN_LENGTH

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def no_control_characters(form, field) -> None:
    if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError("Remove the control characters from this field.")


class PlainTextForm(FlaskForm):
    """A form whose text fields refuse control characters. Nobody types them, and PostgreSQL
    cannot store NUL at all: letting one through would turn a typing accident into a 500."""

    def validate(self, extra_validators=None):
        extra = {name: list(validators) for name, validators in (extra_validators or {}).items()}
        for name, field in self._fields.items():
            if isinstance(field, StringField):
                extra.setdefault(name, []).append(no_control_characters)
        return super().validate(extra)


class RegistrationForm(PlainTextForm):
    # DataRequired, not InputRequired: a field of blanks is as empty as no field at all.
    sponsor = StringField("Sponsor's member number",
                          validators=[DataRequired("Enter your sponsor's member number."),
                                      Length(max=12, message="A member number has at most 12 characters.")])
    first_name = StringField("First name", validators=[DataRequired("Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[DataRequired("Enter your last name."),
                                                     Length(max=80)])
    email = EmailField("Email", validators=[DataRequired("Enter your email address."),
                                            Email("Enter a valid email address.",
                                                  check_deliverability=False),
                                            Length(max=254)])
    password = PasswordField("Password", validators=[
        InputRequired("Choose a password."),
        Length(min=MIN_LENGTH, max=MAX_LENGTH,
               message=f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")])
    confirm = PasswordField("Repeat the password", validators=[
        InputRequired("Repeat the password."), EqualTo("password", "The passwords differ.")])
    role = RadioField("Join as", default="member",
                      choices=[("member", "Customer (member)"),
                               ("ibo", "Distributor (IBO)")],
                      validators=[InputRequired("Choose how you join.")])


class LoginForm(PlainTextForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address."),
                                            Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."),
                                                     Length(max=MAX_LENGTH)])
    remember = BooleanField("Keep me logged in on this device")


class PasswordChangeForm(PlainTextForm):
    current = PasswordField("Current password", validators=[InputRequired("Enter your current password."),
                                                            Length(max=MAX_LENGTH)])
    new = PasswordField("New password", validators=[
        InputRequired("Choose a new password."),
        Length(min=MIN_LENGTH, max=MAX_LENGTH, message=f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the new password."), EqualTo("new", "The passwords differ.")])
