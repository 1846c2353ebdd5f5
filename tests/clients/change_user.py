"""COM_CHANGE_USER through dbward with mysql-connector-python (pure Python): a session reset by
re-authenticating as the same user (naming the database, then none), then an attempt to switch
to another user. One line."""
import sys

import mysql.connector

port, password, other_password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
args = dict(host="127.0.0.1", port=port, user="alice", password=password, database="shop",
            ssl_disabled=False, ssl_verify_cert=False, use_pure=True,
            auth_plugin="caching_sha2_password")
conn = mysql.connector.connect(**args)
cur = conn.cursor()
cur.execute("SET @x = 42")
conn.cmd_change_user(username="alice", password=password, database="shop")
cur = conn.cursor()
cur.execute("SELECT @x IS NULL, @@session.tx_read_only")
reset, read_only = cur.fetchone()
# A client that names no database (or the schema it is in) keeps the session's.
conn.cmd_change_user(username="alice", password=password, database="")
cur = conn.cursor()
cur.execute("SELECT DATABASE() IS NOT NULL")
kept = cur.fetchone()[0]
try:
    conn.cmd_change_user(username="bob", password=other_password, database="shop")
    other = "switched"
except mysql.connector.Error as e:
    other = f"refused {e.errno}"
print(f"reset={reset} read_only={read_only} kept_database={kept} other_user={other}")
