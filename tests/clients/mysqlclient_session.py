"""A mysqlclient (MySQLdb, libmariadb underneath) session through dbward: TLS,
caching_sha2_password, parameters, executemany, a transaction rolled back, a streamed result
(SSCursor), a denied statement in the middle and the session going on. Prints one summary
line."""
import sys

import MySQLdb
import MySQLdb.cursors

port, password = int(sys.argv[1]), sys.argv[2]
conn = MySQLdb.connect(
    host="127.0.0.1", port=port, user="alice", password=password, database="shop",
    ssl_mode="REQUIRED", autocommit=False,
)
cur = conn.cursor()
cur.executemany("INSERT INTO t (id, name) VALUES (%s, %s)", [(i, f"n{i}") for i in range(100)])
conn.commit()
cur.execute("INSERT INTO t (id, name) VALUES (%s, %s)", (1000, "rolled back"))
conn.rollback()
cur.execute("SELECT count(*), sum(id) FROM t WHERE name LIKE %s", ("n%",))
count, total = cur.fetchone()
try:
    cur.execute("DROP TABLE t")
    denied = "not denied"
except MySQLdb.MySQLError as e:
    denied = f"denied {e.args[0]}"
# An unbuffered cursor reads the rows as they arrive.
stream = conn.cursor(MySQLdb.cursors.SSCursor)
stream.execute("SELECT id FROM t ORDER BY id")
streamed = sum(1 for _ in stream)
stream.close()
cur.execute("SELECT name FROM t WHERE id = %s", (42,))
(name,) = cur.fetchone()
print(f"count={count} sum={int(total)} {denied} streamed={streamed} name={name}")
conn.close()
