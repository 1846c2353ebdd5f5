# Prepared-statement commands built by hand over PyMySQL's connection (TLS, its own protocol
# code), as MariaDB's connectors send them: COM_STMT_EXECUTE naming the statement -1 ("the one
# prepared last") before any prepare, after a prepare, after a prepare dbward refused, and
# after the statement was closed; and COM_STMT_BULK_EXECUTE where dbward does not offer it.
# Arguments: dbward port, password. Prints one line per step; the session must go on after
# each.
import struct
import sys

import pymysql

c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="alice",
                    password=sys.argv[2], database="shop", ssl={"check_hostname": False})
cur = c.cursor()
LAST = 0xFFFFFFFF


def execute(statement_id, value):
    """COM_STMT_EXECUTE of a one-parameter statement with a BIGINT value."""
    payload = struct.pack("<IBI", statement_id, 0, 1) + b"\x00\x01\x08\x00" + struct.pack("<q", value)
    c._execute_command(0x17, payload)
    try:
        c._read_ok_packet()
        return "ok"
    except pymysql.err.MySQLError as e:
        return f"error {e.args[0]}"


def prepare(sql):
    """COM_STMT_PREPARE; the statement id, or the error code."""
    c._execute_command(0x16, sql)
    try:
        first = c._read_packet()
    except pymysql.err.MySQLError as e:
        return f"error {e.args[0]}"
    statement_id, columns, params = struct.unpack("<xIHH", first.get_all_data()[:9])
    for count in (params, columns):
        for _ in range(count + (1 if count else 0)):  # definitions, then EOF
            c._read_packet()
    return statement_id


print("before any prepare:", execute(LAST, 1))
prepared = prepare("SET @v = ?")
print("prepared:", isinstance(prepared, int))
print("execute -1:", execute(LAST, 41))
cur.execute("SELECT @v")
print("@v:", cur.fetchone()[0])
print("refused prepare:", prepare("DROP TABLE victim"))
print("execute -1 after it:", execute(LAST, 7))
cur.execute("SELECT @v")
print("@v still:", cur.fetchone()[0])
print("execute by id:", execute(prepared, 43))
c._execute_command(0x19, struct.pack("<I", prepared))  # COM_STMT_CLOSE: no answer
prepare("SET @w = ?")
c._execute_command(0x19, struct.pack("<I", LAST))  # closes the one prepared last
print("execute -1 after its close:", execute(LAST, 1))
c._execute_command(0xFA, struct.pack("<IH", prepared, 0x80) + b"\x08\x00\x00" + struct.pack("<q", 5))
try:
    c._read_ok_packet()
    print("bulk: ok")
except pymysql.err.MySQLError as e:
    print("bulk:", e.args[0], "not available" in e.args[1])
cur.execute("SELECT @v")
print("@v at the end:", cur.fetchone()[0])
