"""Hand-written SQL sent compact: what psycopg caches, with the same meaning."""

from portal.db import compact_sql


def test_comments_and_runs_of_white_space_go():
    assert compact_sql("""
        SELECT a,   b  -- the two columns
        FROM t  -- a table
        WHERE a = 1
    """) == "SELECT a,b FROM t WHERE a = 1"


def test_no_space_is_kept_around_parentheses_and_commas():
    assert compact_sql("SELECT f( a , b ) AS x , ( 1 + 2 ) FROM t") == \
        "SELECT f(a,b)AS x,(1 + 2)FROM t"


def test_string_literals_are_left_as_they_are():
    text = "SELECT 'two  spaces, -- not a comment', 'it''s ( here )' FROM t"
    assert compact_sql(text) == \
        "SELECT 'two  spaces, -- not a comment','it''s ( here )' FROM t"


def test_operators_keep_their_spaces():
    # "a = -1" must not become "a=-1": PostgreSQL would read "=-" as one operator.
    assert compact_sql("WHERE a = -1 AND b >= :c") == "WHERE a = -1 AND b >= :c"
