from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, RadioField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length

from portal.accounts.passwords import MAX_LENGTH, MIN_LENGTH


class RegistrationForm(FlaskForm):
    sponsor = StringField("Sponsor's member number",
                          validators=[InputRequired("Enter your sponsor's member number."),
                                      Length(max=12, message="A member number has at most 12 characters.")])
    first_name = StringField("First name", validators=[InputRequired("Enter your first name."),
                                                       Length(max=80)])
    last_name = StringField("Last name", validators=[InputRequired("Enter your last name."),
                                                     Length(max=80)])
    email = EmailField("Email", validators=[InputRequired("Enter your email address."),
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


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[InputRequired("Enter your email address."),
                                            Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired("Enter your password."),
                                                     Length(max=MAX_LENGTH)])
    remember = BooleanField("Keep me logged in on this device")


class PasswordChangeForm(FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired("Enter your current password."),
                                                            Length(max=MAX_LENGTH)])
    new = PasswordField("New password", validators=[
        InputRequired("Choose a new password."),
        Length(min=MIN_LENGTH, max=MAX_LENGTH, message=f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")])
    confirm = PasswordField("Repeat the new password", validators=[
        InputRequired("Repeat the new password."), EqualTo("new", "The passwords differ.")])
