"""psycopg 3 through dbward: server-side cursor, COPY both ways, a transaction rolled back.

Usage: python3 psycopg_session.py CONNINFO. Prints one line of results; exits non-zero on error.
"""
import io
import sys

import psycopg

conninfo = sys.argv[1]
with psycopg.connect(conninfo, autocommit=False) as conn:
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id int primary key, name text)")
        with cur.copy("COPY items FROM STDIN") as copy:
            for i in range(1000):
                copy.write_row((i, f"item {i}"))
    conn.commit()
    # A server-side (named) cursor: DECLARE + FETCH in batches.
    with conn.cursor(name="big") as cur:
        cur.itersize = 100
        cur.execute("SELECT id FROM items ORDER BY id")
        total = sum(row[0] for row in cur)
    conn.commit()
    # COPY out.
    buf = io.BytesIO()
    with conn.cursor() as cur:
        with cur.copy("COPY (SELECT name FROM items WHERE id < 3 ORDER BY id) TO STDOUT") as copy:
            for data in copy:
                buf.write(bytes(data))
    # A rolled-back change leaves nothing.
    with conn.cursor() as cur:
        cur.execute("DELETE FROM items")
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM items")
        count = cur.fetchone()[0]
    print(f"sum={total} copy={buf.getvalue().decode().strip().replace(chr(10), ',')} count={count}")
