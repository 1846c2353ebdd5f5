"""caching_sha2_password without TLS, through dbward: PyMySQL asks for the server's RSA key and
sends the password encrypted with it, or (given the public key beforehand) sends it at once;
then, by hand over a plain socket, answers that are not the encrypted password (random bytes
of the right length, the password in the clear). Prints one line per login.

Arguments: PORT PASSWORD [PUBLIC_KEY_PEM_FILE]."""
import os
import socket
import struct
import sys

import pymysql

port, password = int(sys.argv[1]), sys.argv[2]
public_key = open(sys.argv[3], "rb").read() if len(sys.argv) > 3 else None


def login(password, **kw):
    try:
        conn = pymysql.connect(host="127.0.0.1", port=port, user="alice", password=password,
                               database="shop", ssl_disabled=True, **kw)
    except pymysql.err.MySQLError as e:
        return f"error {e.args[0]}"
    with conn.cursor() as cur:
        cur.execute("SELECT 40 + 2")
        (value,) = cur.fetchone()
    conn.close()
    return f"ok {value}"


print("requested key:", login(password))
if public_key:
    print("key given:", login(password, server_public_key=public_key))
print("wrong password:", login("not-the-password"))


def packet(sock):
    header = b""
    while len(header) < 4:
        header += sock.recv(4 - len(header))
    length = int.from_bytes(header[:3], "little")
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return header[3], body


def send(sock, seq, body):
    sock.sendall(len(body).to_bytes(3, "little") + bytes([seq]) + body)


def raw_full_authentication(answer):
    """Logs in with a wrong scramble (so dbward asks for the password), then sends `answer`
    (a function of the key length) as the password; returns the outcome."""
    sock = socket.create_connection(("127.0.0.1", port))
    packet(sock)  # the greeting
    caps = 0x0200 | 0x8000 | 0x0008 | 0x80000  # PROTOCOL_41, SECURE_CONNECTION, WITH_DB, PLUGIN_AUTH
    body = struct.pack("<IIB23x", caps, 1 << 24, 45) + b"alice\0"
    body += bytes([32]) + os.urandom(32) + b"shop\0caching_sha2_password\0"
    send(sock, 1, body)
    seq, more = packet(sock)
    if more != b"\x01\x04":
        return f"unexpected {more[:8]!r}"
    send(sock, seq + 1, b"\x02")
    seq, key = packet(sock)
    if not key.startswith(b"\x01-----BEGIN PUBLIC KEY-----"):
        return f"no key: {key[:40]!r}"
    # The modulus length, from the key's size in PEM (3072 bits: 384 bytes, 2048: 256).
    modulus = 384 if len(key) > 500 else 256
    send(sock, seq + 1, answer(modulus))
    _, result = packet(sock)
    sock.close()
    if result[:1] == b"\xff":
        return f"error {int.from_bytes(result[1:3], 'little')}"
    return f"answered {result[:1]!r}"


print("random ciphertext:", raw_full_authentication(os.urandom))
print("cleartext:", raw_full_authentication(lambda _: password.encode() + b"\0"))
