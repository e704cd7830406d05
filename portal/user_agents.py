"""A readable name for a browser from its User-Agent, for the pages that list a person's
browsers (1-Click devices, signed-in sessions)."""

from __future__ import annotations

BROWSERS = (  # (marker in the User-Agent, family), the first match wins
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"),
)
SYSTEMS = (
    ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"), ("CrOS", "ChromeOS"),
    ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Macintosh", "macOS"), ("Linux", "Linux"),
)


def describe_user_agent(user_agent: str | None) -> str:
    """A readable label, e.g. "Firefox on Windows"."""
    text = (user_agent or "")[:512]
    browser = next((family for marker, family in BROWSERS if marker in text), "Browser")
    system = next((name for marker, name in SYSTEMS if marker in text), "")
    return f"{browser} on {system}" if system else ("Unknown browser" if browser == "Browser" else browser)
