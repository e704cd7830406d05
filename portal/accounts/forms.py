from wtforms import BooleanField, EmailField, PasswordField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length

from portal.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from portal.forms import PlainTextForm, required_text

class RegistrationForm(PlainTextForm):
    sponsor = required_text("Sponsor's member number", "Enter your sponsor's member number.",
                            max_length=12, too_long="A member number has at most 12 characters.")
    first_name = required_text("First name", "Enter your first name.", max_length=80)
    last_name = required_text("Last name", "Enter your last name.", max_length=80)
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
