"""PostgreSQL 17's direct TLS (`sslnegotiation=direct`: the TLS ClientHello first, ALPN
`postgresql`, no SSLRequest), which libpq 15 cannot send, through dbward with asyncpg: a
session that verifies dbward's certificate, runs a prepared statement and a transaction; then,
by hand, direct TLS without ALPN, which dbward must refuse (PostgreSQL 17 does too: a client
that does not say `postgresql` may be speaking another protocol over the same port).

Usage: python3 asyncpg_direct_tls.py HOST PORT USER PASSWORD DATABASE CA_FILE.
Prints one line; exits non-zero on error.
"""
import asyncio
import socket
import ssl
import struct
import sys


async def session(host, port, user, password, database, ca):
    import asyncpg

    dsn = (
        f"postgresql://{user}:{password}@{host}:{port}/{database}"
        f"?sslmode=verify-full&sslrootcert={ca}&sslnegotiation=direct"
    )
    conn = await asyncpg.connect(dsn)
    alpn = conn._transport.get_extra_info("ssl_object").selected_alpn_protocol()
    answer = await conn.fetchval("SELECT $1::int + 1", 41)
    async with conn.transaction():
        count = await conn.fetchval("SELECT count(*) FROM generate_series(1, 10)")
    await conn.close()
    return f"alpn={alpn} answer={answer} count={count}"


def without_alpn(host, port, user, database):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            params = b"".join(
                k + b"\0" + v + b"\0"
                for k, v in ((b"user", user.encode()), (b"database", database.encode()))
            ) + b"\0"
            tls.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
            reply = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                reply += chunk
    assert reply[:1] == b"E", reply
    fields = dict(
        (f[:1].decode(), f[1:].decode()) for f in reply[5:].split(b"\0") if f
    )
    return f"refused={fields.get('C')} {fields.get('M')}"


host, port, user, password, database, ca = sys.argv[1:7]
print(asyncio.run(session(host, port, user, password, database, ca)), "|", without_alpn(host, port, user, database))
