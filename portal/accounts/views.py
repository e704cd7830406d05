from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, session, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user
from htmx_flask import make_response, request

from portal import acting
from portal.accounts.forms import (ForgotPasswordForm, LoginForm, PasswordChangeForm,
                                   PasswordResetForm, RegistrationForm)
from portal.accounts.login_sessions import (Lifetimes, end_login_session, live_login_session,
                                            login_sessions_of, note_activity, start_login_session)
from portal.accounts.models import LoginSession, User
from portal.accounts.password_reset import (ResetLinkError, request_password_reset,
                                            reset_password as reset_password_with_link,
                                            user_for_reset_token)
from portal.accounts.rate_limits import limit_attempts, limit_per_ip
from portal.accounts.services import (authenticate, change_password, log_out_everywhere,
                                      register_user)
from portal.clock import utcnow
from portal.extensions import db, login_manager
from portal.forms import show_beside_field
from portal.links import site_url
from portal.errors import NotFound, render_error
from portal.templating import render
from portal.unit_of_work import commit_before, refusal
from portal.user_agents import describe_user_agent

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(identifier: str) -> User | None:
    """The person of the live signed-in session the browser names (one primary-key lookup),
    or None: a session that was ended (logged out, ended from the sessions list, everywhere)
    or has expired is a visitor who must log in.

    "Last seen" is written only when this lookup opened the request's transaction, and then
    committed at once: the view has done nothing yet that must not be committed with it."""
    opens_transaction = not db.session().in_transaction()
    now = utcnow()
    login = live_login_session(db.session, identifier, now=now)
    if login is None:
        return None
    g.login_session_id = login.id
    acting.note_login_session(login.acting_for_id)
    user = login.user
    if opens_transaction and note_activity(db.session, login, now=now,
                                           lifetimes=Lifetimes.from_config(current_app.config)):
        commit_before(db.session, "the view runs, which must not commit a last-seen time with it")
    return user


login_manager.login_view = "accounts.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"


@login_manager.unauthorized_handler
def ask_to_log_in():
    """A page sends the visitor to log in and back. An htmx request gets a 401 whose
    HX-Redirect takes the whole page there (a login form swapped into a fragment helps
    nobody), coming back to the page the request was made from."""
    if request.htmx:
        page = request.htmx.current_url or request.url
        return make_response(render_error(401, login_manager.login_message),
                             redirect=login_url(login_manager.login_view, next_url=page))
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def safe_next(target: str | None) -> str | None:
    """Only our own paths: never another host, never a scheme, never '//host', never a control
    character (a newline in a Location header is a 500; browsers drop a tab, so '/<tab>/host'
    is '//host')."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    return target


def start_session(user: User, remember: bool = False) -> None:
    """A fresh session for this login (no fixation), expiring after PERMANENT_SESSION_LIFETIME,
    with its row on the server (portal/accounts/login_sessions.py). The caller commits."""
    session.clear()
    session.permanent = True
    login, identifier = start_login_session(
        db.session, user=user, label=describe_user_agent(request.user_agent.string),
        remember=remember, now=utcnow(), lifetimes=Lifetimes.from_config(current_app.config))
    login_user(user, remember=remember)
    # Flask-Login keeps in the session, and in the remember cookie, whatever the user loader is
    # given back: here this login's identifier, which logging out can end, not the person's.
    session["_user_id"] = identifier
    g.login_session_id = login.id


def forget_login() -> None:
    """Forget the login in this browser. The session is emptied first, so that Flask-Login's
    note to delete the remember cookie survives to the response."""
    session.clear()
    logout_user()


def end_this_session() -> None:
    """End this browser's session on the server, then in the browser."""
    if g.get("login_session_id") is not None:
        try:
            end_login_session(db.session, user=current_user, login_session_id=g.login_session_id)
        except NotFound:
            pass  # ended meanwhile: another tab logged out, or the sessions list ended it
    forget_login()


@bp.route("/register", methods=["GET", "POST"])
@limit_attempts("REGISTER")
def register():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegistrationForm()
    if request.method == "GET" and request.args.get("sponsor"):
        form.sponsor.data = request.args["sponsor"][:12]
    if form.validate_on_submit():
        with refusal(form):
            user = register_user(db.session, email=form.email.data, password=form.password.data,
                                 first_name=form.first_name.data, last_name=form.last_name.data,
                                 sponsor_number=form.sponsor.data, role=form.role.data)
            start_session(user)
            flash(f"Welcome, {user.first_name}! Your member number is {user.member_number}.",
                  "success")
            return redirect(url_for("home.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render("accounts/register.html", form=form, status=status)


@bp.route("/login", methods=["GET", "POST"])
@limit_attempts("LOGIN")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            form.password.errors = [*form.password.errors,
                                    "That email and password do not match an account."]
        else:  # a rehashed password is saved with the unit of work
            start_session(user, remember=form.remember.data)
            flash(f"Welcome back, {user.first_name}.", "success")
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render("accounts/login.html", form=form, status=status)


@bp.post("/logout")
@login_required
def logout():
    """Ends this session on the server: a copy of its cookie, or of its "keep me logged in"
    cookie, opens nothing afterwards."""
    end_this_session()
    flash("You are logged out.", "info")
    return redirect(url_for("accounts.login"), 303)


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere():
    """Every device, this browser included: a stolen session or cookie stops working too."""
    log_out_everywhere(db.session, user=current_user)
    forget_login()
    flash("You are logged out on every device. Log in again here.", "info")
    return redirect(url_for("accounts.login"), 303)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limit_attempts("PASSWORD_RESET")
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        config = current_app.config
        request_password_reset(
            db.session, email=form.email.data, secret_key=config["SECRET_KEY"],
            link_for=lambda token: site_url() + url_for("accounts.reset_password", token=token),
            max_age_minutes=int(config["PASSWORD_RESET_MAX_AGE_MINUTES"]),
            company_name=config["COMPANY_NAME"])
        flash("If an account exists for that address, we have sent it a link to choose a new "
              f"password. The link works once, for {config['PASSWORD_RESET_MAX_AGE_MINUTES']} "
              "minutes.", "info")
        return redirect(url_for("accounts.login"), 303)
    status = 422 if form.is_submitted() else 200
    return render("accounts/forgot_password.html", form=form, status=status)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limit_per_ip("PASSWORD_RESET")
def reset_password(token: str):
    config = current_app.config
    link_settings = dict(secret_key=config["SECRET_KEY"],
                         max_age_minutes=int(config["PASSWORD_RESET_MAX_AGE_MINUTES"]))
    form = PasswordResetForm()
    with refusal() as refused:
        if not form.validate_on_submit():
            user_for_reset_token(db.session, token, **link_settings)  # a dead link says so first
        else:
            reset_password_with_link(db.session, token=token, new=form.new.data, **link_settings)
            forget_login()
            flash("Your password is changed and every device has been logged out. "
                  "Log in with the new password.", "success")
            return redirect(url_for("accounts.login"), 303)
    if isinstance(refused.error, ResetLinkError):
        return render("accounts/reset_link_invalid.html", status=refused.status, code=refused.status,
                      message=refused.message)
    if refused:
        show_beside_field(form, refused.error)
    status = 422 if form.is_submitted() else 200
    return render("accounts/reset_password.html", form=form, status=status)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """The account page: the password, where one is signed in, logging out everywhere."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        this = db.session.get(LoginSession, g.login_session_id)
        remembered = this is not None and this.remember
        with refusal(form):
            change_password(db.session, user=current_user, current=form.current.data,
                            new=form.new.data)
            start_session(current_user, remember=remembered)  # every other session has ended
            flash("Your password is changed. Other devices have been logged out.", "success")
            return redirect(url_for("home.index"), 303)
    status = 422 if form.is_submitted() else 200
    return render("accounts/password.html", form=form, status=status, **signed_in_sessions())


def signed_in_sessions(ended: str = "") -> dict:
    """The sessions list's context: this person's live sessions, this browser's first."""
    this = g.get("login_session_id")
    logins = sorted(login_sessions_of(db.session, current_user, now=utcnow()),
                    key=lambda login: login.id != this)
    return {"login_sessions": logins, "this_login_session_id": this, "ended": ended}


@bp.post("/account/sessions/<int:login_session_id>/end")
@login_required
def end_session(login_session_id: int):
    """End one of one's own sessions (another person's is a 404); ending this browser's own
    is logging out."""
    if login_session_id == g.get("login_session_id"):
        end_this_session()
        flash("You are logged out.", "info")
        if request.htmx:
            return make_response("", 204, redirect=url_for("accounts.login"))
        return redirect(url_for("accounts.login"), 303)
    label = end_login_session(db.session, user=current_user, login_session_id=login_session_id)
    message = f"The session on {label} has ended: that browser must log in again."
    if request.htmx:
        return render("accounts/_sessions.html", **signed_in_sessions(ended=message))
    flash(message, "success")
    return redirect(url_for("accounts.password"), 303)
