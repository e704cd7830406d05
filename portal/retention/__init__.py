"""Keeping the customer: what a member can do instead of cancelling a standing order, and what
the company does when a product it ships on standing orders is withdrawn.

``swaps`` (an item replaced by another product or unit, keeping the quantity where it makes
sense), ``replacements`` (an admin's replacement of a product in every standing order that
holds it, as a job in chunks), ``cancellation`` (the reasons, the offers each reason brings and
the record of what the member chose) and ``report`` (reasons and saves per month, and its
chart). Every change goes through the standing orders' own services (``portal.autoship``), so
the edit cutoff, the item rules and the history apply as they do everywhere else.
"""
