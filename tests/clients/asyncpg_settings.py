"""asyncpg's `server_settings`: settings it sends as StartupMessage parameters.

Usage: python3 asyncpg_settings.py DSN SETTINGS_JSON NAME... Connects with the settings and
prints `ok` and `NAME=VALUE` for each NAME as the session shows it, or `refused SQLSTATE
MESSAGE` when the connection is refused. Exits non-zero on any other error.
"""
import asyncio
import json
import sys

import asyncpg


async def main(dsn, settings, names):
    try:
        conn = await asyncpg.connect(dsn, ssl=False, server_settings=settings)
    except asyncpg.PostgresError as e:
        print(f"refused {e.sqlstate} {e}")
        return
    shown = [f"{n}={await conn.fetchval(f'SHOW {n}')}" for n in names]
    await conn.close()
    print(" ".join(["ok", *shown]))


asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]))
