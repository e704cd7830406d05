"""Genealogy reads on a synthetic tree of 1,000,000 people (quick: 100,000), depth up to ~30.

For each backend: seed the tree with ``seed_synthetic`` (timed), pick the IBO whose downline is
closest to a tenth of everybody (100,000; quick: 10,000), then time the real query functions of
``portal.genealogy.queries`` on that downline:

(a) the first page of 50 (``downline_page``), (b) a keyset page after the 1000th person,
(c) ``is_in_downline_by_id`` for a descendant and for a non-descendant, (d) ``downline_size``,
(e) ``downline_counts_by_level``.

Each is called 5 times to warm up, then 50 times; the row's value is the median in ms and the
notes give the p95. Every answer is checked against the tree computed in Python from the
sponsor links, including a "near miss" (siblings 17 and 170, whose paths share a string prefix)
that catches prefix mistakes in the queries. The plan of
the first-page query is read with EXPLAIN: "index range scan:
yes" means one range scan of a tree_path index, in path order, with no sort and no table scan.

Then the downline reads are timed again with the covering index proposed for the lead
(``ix_users_downline`` on tree_path, depth, role), unless the schema has it already.
"""

from __future__ import annotations

import re
import sys
from time import perf_counter
from typing import Any

from sqlalchemy import event, inspect, not_, select, text
from sqlalchemy.orm import Session

from bench.rows import on_each_backend, people_label, result_row
from bench.seeding import nearest_downline, timed_tree, vacuum_analyze

REPEAT = 50
PROPOSED_INDEX = "ix_users_downline"
PROPOSED_INDEX_SQL = f"CREATE INDEX {PROPOSED_INDEX} ON users (tree_path, depth, role)"


def run(ctx: Any) -> list[dict]:
    people = 100_000 if ctx.quick else 1_000_000
    return on_each_backend(ctx, measure_backend, f"{people_label(people)} people", people)


def measure_backend(ctx: Any, backend: str, people: int) -> list[dict]:
    from portal.accounts.models import User
    from portal.extensions import db

    label = people_label(people)
    app = ctx.make_app(ctx.database_url(backend, "genealogy"))
    rows: list[dict] = []
    with app.app_context():
        session = db.session
        summary, seconds = timed_tree(ctx, "genealogy", backend, session, people, progress=_progress_bar(people))
        ibos, deepest = re.search(r"\(([\d,]+) IBOs, deepest level (\d+)\)", summary).groups()
        rows.append(result_row(f"{label} people: seed (seed_synthetic)", backend, round(seconds, 1), "s",
                         f"{people / seconds:,.0f} people/s incl. address + card each and "
                         f"VACUUM ANALYZE; {ibos} IBOs, "
                         f"deepest level {deepest}"))

        sponsors = sponsor_links(session)
        sizes = downline_sizes(sponsors)
        rows[-1]["notes"] += f"; {check_near_miss(session, sponsors, sizes)}"
        ancestor_id = nearest_downline(sizes, people // 10)
        expected_size = sizes[ancestor_id]
        ancestor = session.get(User, ancestor_id)
        ctx.log(f"genealogy [{backend}]: ancestor {ancestor_id} at depth {ancestor.depth} with "
                f"{expected_size:,} descendants")
        rows += measure_queries(ctx, session, backend, ancestor, expected_size, label)

        session.commit()
        if PROPOSED_INDEX not in {ix["name"] for ix in inspect(db.engine).get_indexes("users")}:
            started = perf_counter()
            add_proposed_index(session, backend)
            build_seconds = perf_counter() - started
            ancestor = session.get(User, ancestor_id)
            rows += measure_queries(ctx, session, backend, ancestor, expected_size, label,
                                    only=("d", "e"),
                                    suffix=f" [with proposed {PROPOSED_INDEX}]",
                                    extra=f"index built in {build_seconds:.1f} s")
        session.commit()
    return rows


def _progress_bar(total: int):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit=" people", unit_scale=True, leave=False)
    return bar.update


def sponsor_links(session: Session) -> dict[int, int | None]:
    """Everybody in the tree and their sponsor, in ascending id order."""
    from portal.accounts.models import User

    return dict(session.execute(select(User.id, User.sponsor_id)
                                .where(User.tree_path.is_not(None)).order_by(User.id)).all())


def downline_sizes(sponsors: dict[int, int | None]) -> dict[int, int]:
    """Everybody's number of descendants, from sponsor links alone (sponsors have smaller ids)."""
    sizes = dict.fromkeys(sponsors, 0)
    for user_id in reversed(sponsors):
        sponsor_id = sponsors[user_id]
        if sponsor_id is not None:
            sizes[sponsor_id] += sizes[user_id] + 1
    return sizes


def check_near_miss(session: Session, sponsors: dict[int, int | None],
                    sizes: dict[int, int]) -> str:
    """Siblings whose ids share leading digits (17 and 170) have paths that share a prefix
    (/1/6/17/ and /1/6/170/): neither is in the other's downline. Checked on the pair with the
    biggest downline, as a guard against string-prefix mistakes in the queries."""
    from portal.accounts.models import User
    from portal.genealogy import queries

    pairs = ((ancestor, other) for ancestor in sorted(sizes, key=sizes.get, reverse=True)[:2000]
             for scale in (10, 100, 1000, 10_000) for other in range(ancestor * scale,
                                                                      (ancestor + 1) * scale)
             if sponsors.get(other, 0) == sponsors[ancestor])
    ancestor_id, other_id = next(pairs, (None, None))
    if ancestor_id is None:
        return "no near-miss siblings to check"
    ancestor = session.get(User, ancestor_id)
    assert not queries.is_in_downline_by_id(session, ancestor_id, other_id), \
        f"{other_id} reported in the downline of {ancestor_id}"
    assert queries.downline_size(session, ancestor) == sizes[ancestor_id], \
        f"downline_size({ancestor_id}) counts people outside the downline"
    return f"near-miss check passed (siblings {ancestor_id} and {other_id})"


def measure_queries(ctx: Any, session: Session, backend: str, ancestor, expected_size: int,
                    label: str, only: tuple[str, ...] = ("a", "b", "c", "d", "e"),
                    suffix: str = "", extra: str = "") -> list[dict]:
    from portal.accounts.models import User
    from portal.genealogy import queries

    inside = queries.in_downline_of(ancestor.tree_path)
    descendant = session.scalar(select(User.id).where(inside)
                                .order_by(User.depth.desc(), User.id).limit(1))
    # The hardest non-descendant is a near miss: a path that starts with the ancestor's path
    # minus its final '/' (ancestor 17, path /1/6/170/...). Without one, the deepest outsider.
    stem = ancestor.tree_path[:-1]
    outsider = session.scalar(select(User.id).where(User.tree_path > stem + "0",
                                                    User.tree_path < stem + ":")
                              .order_by(User.depth.desc(), User.id).limit(1))
    outsider_note = "near miss: path starts with the ancestor's digits"
    if outsider is None:
        outsider = session.scalar(select(User.id).where(not_(inside), User.id != ancestor.id,
                                                        User.tree_path.is_not(None))
                                  .order_by(User.depth.desc(), User.id).limit(1))
        outsider_note = "deepest person outside the downline"
    thousandth = session.scalar(select(User.tree_path).where(inside).order_by(User.tree_path)
                                .offset(999).limit(1))

    def first_page():
        page = queries.downline_page(session, ancestor)
        assert len(page.rows) == 50 and page.next_after is not None

    def later_page():
        page = queries.downline_page(session, ancestor, after=thousandth)
        assert len(page.rows) == 50 and page.rows[0].tree_path > thousandth

    def member_yes():
        assert queries.is_in_downline_by_id(session, ancestor.id, descendant) is True

    def member_no():
        assert queries.is_in_downline_by_id(session, ancestor.id, outsider) is False

    def size():
        assert queries.downline_size(session, ancestor) == expected_size

    def levels():
        assert sum(count for _, count, _ in queries.downline_counts_by_level(session, ancestor)) \
            == expected_size

    where = f"downline of {expected_size:,} (depth {ancestor.depth})"
    cases = [
        ("a", "(a) first downline page, 50 rows", first_page,
         f"{where}; {page_plan_note(session, backend, first_page)}"),
        ("b", "(b) keyset page after the 1000th", later_page, where),
        ("c", "(c) is_in_downline_by_id, descendant", member_yes,
         f"deepest descendant, {where}"),
        ("c", "(c) is_in_downline_by_id, non-descendant", member_no,
         outsider_note),
        ("d", "(d) downline_size", size, f"{where}; {scan_note(session, backend, size)}"),
        ("e", "(e) downline_counts_by_level", levels,
         f"{where}; {scan_note(session, backend, levels)}"),
    ]
    rows = []
    for key, name, call, notes in cases:
        if key not in only:
            continue
        samples = ctx.time_calls(call, repeat=REPEAT)
        rows.append(result_row(f"{label} people: {name}{suffix}", backend,
                         round(ctx.percentile(samples, 0.5), 2), "ms median",
                         f"p95 {ctx.percentile(samples, 0.95):.2f} ms over {REPEAT}; {notes}"
                         + (f"; {extra}" if extra else "")))
    return rows


def add_proposed_index(session: Session, backend: str) -> None:
    session.execute(text(PROPOSED_INDEX_SQL))
    session.commit()
    vacuum_analyze(session, "users")


def captured_statements(session: Session, call) -> list[tuple[str, Any]]:
    """The SQL statements (and their parameters) that ``call`` sends to the database."""
    engine = session.get_bind()
    statements: list[tuple[str, Any]] = []

    def listener(connection, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return statements


def query_plan(session: Session, backend: str, call) -> list[str]:
    statement, parameters = captured_statements(session, call)[-1]
    result = session.connection().exec_driver_sql("EXPLAIN " + statement, parameters)
    return [str(row[-1]) for row in result]


def page_plan_note(session: Session, backend: str, call) -> str:
    plan = query_plan(session, backend, call)
    text_plan = "\n".join(plan)
    scans = re.findall(r"(Index(?: Only)? Scan using \S+)", text_plan)
    range_scan = bool(scans) and bool(re.search(r"Index Cond: .*tree_path\S* >", text_plan)) \
        and not re.search(r"Seq Scan|Sort|Bitmap", text_plan)
    return (f"index range scan: {'yes' if range_scan else 'no'} "
            f"({', '.join(scans) or text_plan.splitlines()[0] if plan else 'no plan'})")


def scan_note(session: Session, backend: str, call) -> str:
    text_plan = "\n".join(query_plan(session, backend, call))
    scans = re.findall(r"((?:Parallel )?(?:Index Only Scan|Bitmap Index Scan|Index Scan|"
                       r"Bitmap Heap Scan|Seq Scan)(?: using \S+| on \S+)?)", text_plan)
    return "plan: " + ", ".join(dict.fromkeys(scans)) if scans else "plan: ?"
