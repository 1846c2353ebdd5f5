"""Idle sessions through dbward over TLS, in groups: opens N sessions (each runs one SELECT, as a
client's pooled connection would have), prints how many are open, and waits for a line on
standard input before opening the next N; exits at end of input.

    idle_sessions.py mysql PORT USER PASSWORD DATABASE N
    idle_sessions.py pg "CONNINFO" N
"""
import sys


def mysql_session(port, user, password, database):
    import pymysql

    conn = pymysql.connect(
        host="127.0.0.1", port=port, user=user, password=password, database=database,
        ssl={"check_hostname": False}, ssl_verify_cert=False, ssl_verify_identity=False,
    )
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        cur.fetchall()
    return conn


def pg_session(conninfo):
    import psycopg

    conn = psycopg.connect(conninfo.replace("sslmode=disable", "sslmode=require"))
    conn.execute("SELECT 1").fetchall()
    conn.commit()
    return conn


if sys.argv[1] == "mysql":
    port, user, password, database, n = sys.argv[2:7]
    connect = lambda: mysql_session(int(port), user, password, database)  # noqa: E731
else:
    conninfo, n = sys.argv[2:4]
    connect = lambda: pg_session(conninfo)  # noqa: E731
sessions = []
while True:
    sessions += [connect() for _ in range(int(n))]
    print(len(sessions), flush=True)
    if not sys.stdin.readline():
        break
