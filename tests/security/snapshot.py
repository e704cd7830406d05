"""What the portal holds, taken before and after one request, so that a refused request can be
shown to have changed nothing: per table its row count and a hash of its rows (tables are
small in tests), and every Redis key with its value."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import redis as redis_lib
from sqlalchemy import select

from portal.extensions import db

# The sandbox payment gateway keeps its own records in Redis, as a real processor keeps its
# own: a declined charge is remembered there (so that a retry with the same key gets the same
# answer) while the portal refuses the request and changes nothing of its own. Rate limiters
# count refused attempts by design.
FOREIGN_REDIS_PREFIXES = (b"sandbox-gateway:", b"LIMITS:", b"LIMITER", b"limiter")


@dataclass(frozen=True)
class Snapshot:
    tables: dict[str, tuple[int, str]]
    redis: dict[bytes, bytes]

    def differences(self, later: Snapshot) -> list[str]:
        """Readable differences: tables whose rows changed, Redis keys added, removed or changed."""
        changes = [f"table {name}: {self.tables[name][0]} rows before, {later.tables[name][0]} after"
                   + ("" if self.tables[name][0] != later.tables[name][0] else " (contents changed)")
                   for name in self.tables if self.tables[name] != later.tables.get(name)]
        for key in sorted(set(self.redis) | set(later.redis)):
            if self.redis.get(key) != later.redis.get(key):
                state = ("added" if key not in self.redis else
                         "removed" if key not in later.redis else "changed")
                changes.append(f"redis key {key.decode(errors='replace')} {state}")
        return changes


def _digest(rows) -> str:
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()


def owned_rows(person_id: int) -> dict[str, str]:
    """A hash per table of one person's rows: their user row, every row with their user_id,
    and the rows hanging off those (a standing order's items, an order's lines)."""
    users = db.metadata.tables["users"]
    owned = {"users": select(users).where(users.c.id == person_id).order_by(users.c.id)}
    for table in db.metadata.sorted_tables:
        if "user_id" in table.c:
            owned[table.name] = select(table).where(table.c.user_id == person_id).order_by(
                *table.primary_key.columns)
    for table in db.metadata.sorted_tables:
        if table.name in owned:
            continue
        for foreign_key in table.foreign_keys:
            parent = foreign_key.column.table
            if parent.name != "users" and "user_id" in parent.c:
                owned[f"{table.name} of {parent.name}"] = select(table).where(
                    foreign_key.parent.in_(select(parent.c.id).where(parent.c.user_id == person_id))
                ).order_by(*table.primary_key.columns)
    digests = {name: _digest(db.session.execute(query).all()) for name, query in owned.items()}
    db.session.commit()  # the test's session holds no transaction (no locks) after
    return digests


def table_digests() -> dict[str, tuple[int, str]]:
    """Per table: the number of rows and a hash of all of them (ordered by primary key)."""
    tables = {}
    for table in db.metadata.sorted_tables:
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        tables[table.name] = (len(rows), _digest(rows))
    db.session.commit()  # the test's session holds no transaction (no locks) after
    return tables


def take_snapshot(redis_url: str) -> Snapshot:
    tables = table_digests()
    connection = redis_lib.Redis.from_url(redis_url)
    try:
        keys = [key for key in connection.scan_iter(count=1000)
                if not key.startswith(FOREIGN_REDIS_PREFIXES)]
        values = {key: connection.dump(key) or b"" for key in keys}
    finally:
        connection.close()
    return Snapshot(tables=tables, redis=values)
