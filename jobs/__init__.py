"""RQ entry points. Jobs take ids and dates, call services, and let errors raise so RQ records
the failure; each is one unit of work (``portal.unit_of_work.transactional``). The app is built
once per worker process, never at import time."""
