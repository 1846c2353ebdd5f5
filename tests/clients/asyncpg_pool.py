"""asyncpg through dbward under a `read` grant: a pool whose connections go back and forth
(asyncpg resets each released connection with `SELECT pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL`), prepared statements with parameters, type introspection (jsonb), a
read-only transaction, and a cursor that fetches in batches.

Usage: python3 asyncpg_pool.py DSN. Prints one line of results; exits non-zero on error.
"""
import asyncio
import json
import sys

import asyncpg


async def main(dsn):
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, ssl=False)
    names, counts, streamed = [], [], 0
    for i in range(1, 4):
        async with pool.acquire() as conn:
            names.append(await conn.fetchval("SELECT name FROM items WHERE id = $1", i))
            doc = await conn.fetchval("SELECT $1::jsonb", json.dumps({"i": i}))
            assert json.loads(doc) == {"i": i}, doc
            async with conn.transaction(readonly=True):
                counts.append(await conn.fetchval("SELECT count(*) FROM items"))
            async with conn.transaction():
                async for _ in conn.cursor("SELECT g FROM generate_series(1, 500) g", prefetch=100):
                    streamed += 1
    await pool.close()
    print(f"names={','.join(names)} counts={','.join(map(str, counts))} streamed={streamed}")


asyncio.run(main(sys.argv[1]))
