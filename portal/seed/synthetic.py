"""Synthetic data for benchmarks: a large, deterministic genealogy loaded set-based.

The people form a tree of their own, appended to whatever the database holds: its root is a
new IBO with no sponsor (a second root beside the company's, if there is one), and ids continue
after the current largest ids. Everybody gets one default "Home" address and one default
sandbox Visa card ("tok_ok_..." tokens, so sandbox charges succeed) that expires in the future.

The tree is a random recursive tree: each person after the root picks a sponsor uniformly
among the IBOs created before them, so early IBOs end up with huge downlines and depths reach
the high twenties in a million people. A sponsor already at ``max_depth`` hands the newcomer to
its own sponsor, so no depth exceeds ``max_depth``. The same seed and count give the same tree,
names, addresses and cards (ids shift if the database was not empty).

Every synthetic person logs in with SYNTHETIC_PASSWORD: hashing a million passwords with
Argon2 would take days, so the hash is computed once and shared.

Rows go in with PostgreSQL's COPY, in batches generated lazily;
only the IBOs' paths and depths are kept between batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from random import Random

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from portal.clock import company_today
from portal.accounts.models import Role, User
from portal.accounts.passwords import hash_password
from portal.addresses.models import Address, normalise_destination
from portal.payments.models import PaymentMethod
from portal.unit_of_work import commit_before

SYNTHETIC_PASSWORD = "synthetic-password"
BATCH_SIZE = 50_000
# Join dates spread evenly over three fixed years, in id order, so that data is reproducible
# and every sponsor joined before their recruits.
JOINED_FROM = datetime(2023, 1, 1, tzinfo=timezone.utc)
JOINED_OVER = timedelta(days=3 * 365)

FIRST_NAMES = ("Ava", "Ben", "Chloe", "Dan", "Ella", "Finn", "Gia", "Hugo", "Iris", "Jack",
               "Kira", "Liam", "Maya", "Noah", "Olga", "Pia", "Quinn", "Rosa", "Sam", "Tara",
               "Uma", "Vic", "Wen", "Xavi", "Yara", "Zane", "Aiko", "Bela", "Cruz", "Dara",
               "Emil", "Fay", "Gus", "Hana", "Ines", "Jon", "Kai")
LAST_NAMES = ("Abbott", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes",
              "Ivanova", "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel",
              "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz",
              "Zhang", "Andersen", "Brown", "Chen", "Diaz", "Eriksen", "Ferreira", "Gomez",
              "Hansen", "Ito", "Johnson", "Kim", "Larsen", "Martin", "Nowak", "Olsen")
STREETS = ("Maple Street", "Oak Avenue", "Cedar Lane", "Elm Road", "Pine Court", "Birch Way",
           "Willow Drive", "Aspen Place", "Chestnut Boulevard", "Spruce Terrace")
CITIES = (("Springfield", "IL", "62704"), ("Madison", "WI", "53703"), ("Austin", "TX", "78701"),
          ("Portland", "OR", "97205"), ("Denver", "CO", "80202"), ("Raleigh", "NC", "27601"),
          ("Boise", "ID", "83702"), ("Tampa", "FL", "33602"), ("Omaha", "NE", "68102"),
          ("Albany", "NY", "12207"), ("Fresno", "CA", "93721"), ("Tucson", "AZ", "85701"))

USER_COLUMNS = ("id", "member_number", "email", "password_hash", "first_name", "last_name",
                "role", "sponsor_id", "tree_path", "depth", "active", "created_at",
                "password_changed_at", "session_generation")
ADDRESS_COLUMNS = ("id", "user_id", "moniker", "full_name", "line1", "line2", "city", "region",
                   "postal_code", "country", "phone", "is_default", "created_at", "destination_key")
CARD_COLUMNS = ("id", "user_id", "gateway", "token", "brand", "last4", "exp_month", "exp_year",
                "cardholder", "is_default", "created_at")

Progress = Callable[[int], None]


def synthetic_member_number(user_id: int) -> str:
    """Twelve digits starting with 9: real member numbers have eight, so they never collide."""
    return f"9{user_id:011d}"


def synthetic_tree(rng: Random, *, count: int, ibo_share: float, max_depth: int,
                   first_id: int) -> Iterator[tuple[int, int | None, bool, str, int]]:
    """(id, sponsor id, is IBO, tree path, depth) for each person, in id order.

    Only IBOs sponsor, so only their ids, paths, depths and sponsors are remembered.
    """
    ibo_ids: list[int] = [first_id]
    ibo_paths: list[str] = [f"/{first_id}/"]
    ibo_depths: list[int] = [0]
    ibo_sponsors: list[int] = [0]  # index into the ibo_* lists; the root's is itself
    yield first_id, None, True, ibo_paths[0], 0
    for user_id in range(first_id + 1, first_id + count):
        is_ibo = rng.random() < ibo_share
        sponsor = rng.randrange(len(ibo_ids))
        if ibo_depths[sponsor] >= max_depth:
            sponsor = ibo_sponsors[sponsor]
        path = f"{ibo_paths[sponsor]}{user_id}/"
        depth = ibo_depths[sponsor] + 1
        if is_ibo:
            ibo_ids.append(user_id)
            ibo_paths.append(path)
            ibo_depths.append(depth)
            ibo_sponsors.append(sponsor)
        yield user_id, ibo_ids[sponsor], is_ibo, path, depth


def seed_synthetic(session: Session, *, count: int, seed: int, ibo_share: float = 0.3,
                   max_depth: int = 30, progress: Progress | None = None) -> str:
    """Append ``count`` synthetic people (with an address and a card each) and commit.

    A bulk load is its own unit of work: it commits, then refreshes the planner statistics
    (VACUUM ANALYZE, which also sets the visibility map).
    Returns a one-paragraph summary. Run it on a quiet database: ids are taken from the
    current maxima, not from the sequences.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    if not 0 < ibo_share <= 1:
        raise ValueError("ibo_share must be in (0, 1]")
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    progress = progress or (lambda n: None)
    started = time.perf_counter()
    first_user = (session.scalar(select(func.max(User.id))) or 0) + 1
    first_address = (session.scalar(select(func.max(Address.id))) or 0) + 1
    first_card = (session.scalar(select(func.max(PaymentMethod.id))) or 0) + 1

    people = synthetic_tree(Random(seed), count=count, ibo_share=ibo_share, max_depth=max_depth,
                            first_id=first_user)
    batches = _row_batches(people, count=count, seed=seed, first_user=first_user,
                           first_address=first_address, first_card=first_card,
                           password_hash=hash_password(SYNTHETIC_PASSWORD),
                           expiry_base=company_today().year)
    stats = {"ibos": 0, "max_depth": 0}
    _copy_batches(session, batches, stats, progress)
    commit_before(session, "VACUUM ANALYZE, which sees committed rows only")
    _analyze(session)

    elapsed = time.perf_counter() - started
    return (f"Created {count:,} synthetic people ({stats['ibos']:,} IBOs, deepest level "
            f"{stats['max_depth']}) with a Home address and a sandbox Visa each, in "
            f"{elapsed:.1f} s. Their tree's root is user {first_user} (member no. "
            f"{synthetic_member_number(first_user)}); ids {first_user}-{first_user + count - 1}. "
            f"Log in as synthetic<id>@example.test with password {SYNTHETIC_PASSWORD!r}.")


Batch = tuple[list[tuple], list[tuple], list[tuple], int, int]  # users, addresses, cards, IBOs, depth


def _row_batches(people, *, count: int, seed: int, first_user: int, first_address: int,
                 first_card: int, password_hash: str, expiry_base: int) -> Iterator[Batch]:
    step = JOINED_OVER / max(count, 1)
    token_salt = f"{seed & 0xFFFFFFFF:08x}"
    ibo, member = str(Role.IBO), str(Role.MEMBER)
    users: list[tuple] = []
    addresses: list[tuple] = []
    cards: list[tuple] = []
    ibos = deepest = 0
    for index, (user_id, sponsor_id, is_ibo, path, depth) in enumerate(people):
        joined = JOINED_FROM + step * index
        created = joined
        first_name = FIRST_NAMES[index % len(FIRST_NAMES)]
        last_name = LAST_NAMES[index // len(FIRST_NAMES) % len(LAST_NAMES)]
        full_name = f"{first_name} {last_name}"
        city, region, postal = CITIES[index % len(CITIES)]
        ibos += is_ibo
        deepest = max(deepest, depth)
        users.append((user_id, synthetic_member_number(user_id), f"synthetic{user_id}@example.test",
                      password_hash, first_name, last_name, ibo if is_ibo else member, sponsor_id,
                      path, depth, True, created, created, 0))
        street = f"{1 + index % 9999} {STREETS[index % len(STREETS)]}"
        addresses.append((first_address + index, user_id, "Home", full_name, street, "", city, region,
                          postal, "US", "", True, created,
                          normalise_destination(street, "", city, region, postal, "US")))
        card_id = first_card + index
        cards.append((card_id, user_id, "sandbox", f"tok_ok_{token_salt}{card_id:016x}", "Visa",
                      "4242", 1 + index % 12, expiry_base + 1 + index % 4, full_name, True,
                      created))
        if len(users) == BATCH_SIZE:
            yield users, addresses, cards, ibos, deepest
            users, addresses, cards = [], [], []
            ibos = 0
    if users:
        yield users, addresses, cards, ibos, deepest


def _tally(stats: dict, batch: Batch, progress: Progress) -> None:
    stats["ibos"] += batch[3]
    stats["max_depth"] = max(stats["max_depth"], batch[4])
    progress(len(batch[0]))


def _copy_batches(session: Session, batches: Iterator[Batch], stats: dict,
                  progress: Progress) -> None:
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        for batch in batches:
            for table, columns, rows in (("users", USER_COLUMNS, batch[0]),
                                         ("addresses", ADDRESS_COLUMNS, batch[1]),
                                         ("payment_methods", CARD_COLUMNS, batch[2])):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            _tally(stats, batch, progress)
        for table in ("users", "addresses", "payment_methods"):
            # Explicit ids bypassed the sequences: move them past the new rows.
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")


def _analyze(session: Session) -> None:
    # VACUUM as well as ANALYZE: freshly copied pages are not marked all-visible, so until
    # (auto)vacuum visits them every index-only scan (a downline count) reads the heap too.
    # VACUUM cannot run in a transaction, hence a connection of its own in autocommit.
    with session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE) users, addresses, payment_methods"))
