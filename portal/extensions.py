"""Flask extensions, created unbound and bound in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Binding makes the app's request class htmx-flask's, which gives every request ``request.htmx``
# (PortalFlask keeps Flask's own request class, so nothing else competes for that slot).
htmx = Htmx()
# Limits are declared on the views (portal.accounts.rate_limits); storage: the portal's Redis.
limiter = Limiter(key_func=get_remote_address, strategy="fixed-window", key_prefix="portal")
