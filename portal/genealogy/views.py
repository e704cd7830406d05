from __future__ import annotations

import re

from flask import Blueprint
from flask_login import current_user, login_required
from htmx_flask import request

from portal.extensions import db
from portal.genealogy.queries import downline_counts_by_level, downline_page, downline_size
from portal.roles import ibo_required
from portal.templating import render

bp = Blueprint("genealogy", __name__, url_prefix="/downline")

# The "Show more" cursor is a tree path; anything else (a NUL byte is a 500 on PostgreSQL)
# starts from the top.
CURSOR = re.compile(r"(?:/[0-9]{1,18})+/")


@bp.get("/")
@login_required
@ibo_required
def downline():
    after = request.args.get("after", "")[:512]
    after = after if CURSOR.fullmatch(after) else None
    page = downline_page(db.session, current_user, after=after, limit=50)
    if request.htmx:  # "Show more": the next rows only, not the totals again
        return render("genealogy/_rows.html", page=page)
    return render("genealogy/downline.html", page=page,
                  total=downline_size(db.session, current_user),
                  levels=downline_counts_by_level(db.session, current_user),
                  referral_link=request.host_url.rstrip("/")
                  + f"/register?sponsor={current_user.member_number}")
