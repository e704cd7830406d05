from portal.autoship.recurrence import Recurrence

__all__ = ["Recurrence"]
