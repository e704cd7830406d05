"""Loyalty points: standing-order orders earn points at a rate that grows with consecutive
months of qualifying orders; points expire, pay for products and carry no PV.

``rules`` is the rule book (the company's program as data, the rate ladder, points per
order, expiry dates: Python and the SQL expressions beside them); ``program`` stores and
loads the program in force; ``streaks`` counts consecutive months; ``ledger`` writes the
append-only ledger (earning set-based, reversals, redemptions, expiry); ``standing`` pays a
standing order's items with points when it is charged; ``queries`` reads what the member
sees. ``reactions`` follows orders' announcements (paid, cancelled, refunded).
"""
