"""The highest rank each person has been paid as, derived from their rows of every period.

Kept as a table so that pages read it in one lookup; rewritten for the people a computation
touched, from all their periods' rows (ranks ordered by the newest plan), so it never depends
on the order in which events arrived: a rank reached and then lost again within an open period
(a refund) is not kept."""

from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from portal.volume.rank_plans import latest_plan

_UPDATE = """
WITH levels (code, level) AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:levels AS int[]))),
affected AS (
    SELECT user_id FROM person_volumes WHERE period = :period AND rank IS NOT NULL {only}
    UNION SELECT user_id FROM highest_ranks WHERE period = :period {only}
),
best AS (
    SELECT DISTINCT ON (pv.user_id) pv.user_id, pv.rank, pv.period
    FROM person_volumes pv JOIN levels l ON l.code = pv.rank
    WHERE pv.user_id IN (SELECT user_id FROM affected)
    ORDER BY pv.user_id, l.level DESC, pv.period
),
gone AS (
    DELETE FROM highest_ranks h WHERE h.user_id IN (SELECT user_id FROM affected)
      AND h.user_id NOT IN (SELECT user_id FROM best)
)
INSERT INTO highest_ranks (user_id, rank, period) SELECT user_id, rank, period FROM best
ON CONFLICT (user_id) DO UPDATE SET rank = excluded.rank, period = excluded.period
WHERE (highest_ranks.rank, highest_ranks.period) IS DISTINCT FROM (excluded.rank, excluded.period)
"""


def update_highest_ranks(session: Session, period: date, user_ids: list[int] | None) -> None:
    """Rewrite the highest ranks of those ranked in ``period`` (or of ``user_ids`` only) and of
    anyone whose highest rank dated from it."""
    _, plan = latest_plan(session)
    only = "AND user_id = ANY(:ids)" if user_ids is not None else ""
    statement = text(_UPDATE.format(only=only))
    params = {"codes": [rank.code for rank in plan.ranks],
              "levels": list(range(len(plan.ranks))), "period": period}
    if user_ids is not None:
        statement = statement.bindparams(bindparam("ids"))
        params["ids"] = list(user_ids)
    session.execute(statement, params)
