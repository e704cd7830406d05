"""RQ entry points. Jobs take ids and dates, call services, commit, and let errors raise so
RQ records the failure. The app is built once per worker process, never at import time."""
