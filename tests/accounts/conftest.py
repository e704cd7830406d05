from tests.accounts.web import another_browser  # noqa: F401  (a second browser)
