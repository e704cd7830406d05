"""Why 1-Click refuses: the domain errors the web layer turns into a message and a status."""

from __future__ import annotations

from portal.errors import DomainError, Forbidden


class OneClickError(DomainError):
    pass


class ClientNotRecognised(Forbidden):
    def __init__(self):
        super().__init__("This browser is not set up for 1-Click (or 1-Click was turned off "
                         "here). Log in and turn on 1-Click to order with one click.")


class ClientRevoked(OneClickError):
    """The browser's identifier was revoked; the caller gives the browser a new one."""

    status = 409

    def __init__(self):
        super().__init__("1-Click was turned off on this browser. Reload the page and try again.")


class OneClickOff(Forbidden):
    def __init__(self):
        super().__init__("That person has not turned on 1-Click on this browser. Choose who is "
                         "ordering from the list, or log in and turn on 1-Click.")


class StoredDetailsUnusable(OneClickError):
    pass


class IdempotencyKeyReused(OneClickError):
    pass


class TooManyOrders(OneClickError):
    status = 429


class WindowClosed(OneClickError):
    pass
