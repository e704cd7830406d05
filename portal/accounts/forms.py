from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from portal.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from portal.forms import PlainTextForm

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
                      choices=[SelectChoice("member", "Customer (member)"),
                               SelectChoice("ibo", "Distributor (IBO)")],
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


class ForgotPasswordForm(PlainTextForm):
    # As on the login form: any address an account may have; an unknown one gets the same answer.
    email = EmailField("Email", validators=[DataRequired("Enter your email address."),
                                            Length(max=254)])


class PasswordResetForm(PlainTextForm):
    new = PasswordField("New password", validators=[
        InputRequired("Choose a new password."),
        Length(min=MIN_LENGTH, max=MAX_LENGTH, message=f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the new password."), EqualTo("new", "The passwords differ.")])
