"""A PyMySQL session whose large result dbward ends midway (an admin kills the session while
rows stream, unbuffered): prints the error the driver raised. PyMySQL checks every packet's
sequence number, so a kill reported out of sequence would surface as a packet error instead."""
import base64
import json
import sys
import urllib.request

import pymysql
import pymysql.cursors

port, password, api, admin_password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def admin(method, path):
    request = urllib.request.Request(api + path, method=method)
    token = base64.b64encode(f"admin:{admin_password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return json.loads(body) if body else None


conn = pymysql.connect(
    host="127.0.0.1", port=port, user="alice", password=password, database="shop",
    ssl={"check_hostname": False}, ssl_verify_cert=False, ssl_verify_identity=False,
    cursorclass=pymysql.cursors.SSCursor,
)
cur = conn.cursor()
cur.execute("SELECT REPEAT('x', 1020) FROM seq_1_to_10000000")
rows = 0
try:
    while True:
        row = cur.fetchone()
        if row is None:
            print("completed")
            break
        rows += 1
        if rows == 4000:
            session = admin("GET", "/api/sessions")[0]["id"]
            admin("DELETE", f"/api/sessions/{session}")
except pymysql.err.MySQLError as e:
    print(f"{type(e).__name__} {e.args[0]} {e.args[1] if len(e.args) > 1 else ''}")
