# PyMySQL through dbward: a session sets ANSI_QUOTES, a text that hides a DROP in that quoting is
# refused, then COM_RESET_CONNECTION (sent by hand: PyMySQL's Connection has no reset of its own)
# brings the server's default sql_mode back, and the same text is one SELECT again.
# Arguments: dbward port, password. Prints one line per step.
import sys

import pymysql

c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="alice",
                    password=sys.argv[2], database="shop", ssl={"check_hostname": False},
                    client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
cur = c.cursor()
drop = r'SELECT 1 AS "a\"; DROP TABLE victim; -- "'
cur.execute("SET sql_mode = 'ANSI_QUOTES'")
try:
    cur.execute(drop)
    print("ran under ANSI_QUOTES")
except pymysql.err.MySQLError as e:
    print("refused:", "this statement is ddl" in str(e))
c._execute_command(0x1F, b"")
c._read_ok_packet()
cur.execute("SELECT @@sql_mode LIKE '%ANSI_QUOTES%'")
print("ansi after reset:", cur.fetchone()[0])
cur.execute(drop)
print("after reset:", cur.fetchall())
