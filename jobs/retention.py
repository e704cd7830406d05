"""RQ entry point of a product's replacement in every standing order that holds it."""

from __future__ import annotations

from flask import current_app

from portal.autoship.profiles import AutoshipRules
from portal.clock import company_today
from portal.extensions import db
from portal.links import site_url
from portal.retention import replacements
from portal.retention.models import ReplacementStatus
from portal.unit_of_work import commit_before, transactional


@transactional
def replace_product(replacement_id: int) -> dict:
    """Run the replacement a chunk at a time, each chunk committed (the admin page shows the
    progress). A failure is recorded on the replacement and raised to RQ; run again (by RQ or
    by hand), it goes on from the standing orders not yet handled."""
    try:
        done = replacements.run_replacement(
            db.session, replacement_id, today=company_today(),
            rules=AutoshipRules.from_config(current_app.config), base_url=site_url(),
            chunk_size=int(current_app.config["AUTOSHIP_REPLACEMENT_CHUNK_SIZE"]),
            after_chunk=lambda: commit_before(db.session, "the next chunk (progress is shown)"))
    except Exception as error:
        db.session.rollback()
        failed = replacements.replacement_of(db.session, replacement_id)
        failed.status, failed.error = ReplacementStatus.FAILED, repr(error)[:500]
        commit_before(db.session, "the failure is raised to RQ")
        raise
    return {"replaced": done.replaced, "set_aside": done.set_aside}
