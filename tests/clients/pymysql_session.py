"""A PyMySQL session through dbward: TLS, caching_sha2_password, parameters, executemany,
transactions, a denied statement in the middle. Prints one summary line."""
import sys

import pymysql

port, password = int(sys.argv[1]), sys.argv[2]
conn = pymysql.connect(
    host="127.0.0.1", port=port, user="alice", password=password, database="shop",
    ssl={"check_hostname": False}, ssl_verify_cert=False, ssl_verify_identity=False,
    autocommit=False,
)
with conn.cursor() as cur:
    cur.executemany("INSERT INTO t (id, name) VALUES (%s, %s)", [(i, f"n{i}") for i in range(100)])
    conn.commit()
    cur.execute("INSERT INTO t (id, name) VALUES (%s, %s)", (1000, "rolled back"))
    conn.rollback()
    cur.execute("SELECT count(*), sum(id) FROM t WHERE name LIKE %s", ("n%",))
    count, total = cur.fetchone()
    try:
        cur.execute("DROP TABLE t")
        denied = "not denied"
    except pymysql.err.MySQLError as e:
        denied = f"denied {e.args[0]}"
    cur.execute("SELECT name FROM t WHERE id = %s", (42,))
    (name,) = cur.fetchone()
print(f"count={count} sum={int(total)} {denied} name={name}")
conn.close()
