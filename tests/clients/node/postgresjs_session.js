// postgres.js (npm `postgres`), its own implementation of PostgreSQL's protocol, through
// dbward: tagged-template queries (prepared, binary where it can), pipelined queries in a
// transaction, a savepoint rolled back, COPY FROM STDIN as a stream, a cursor, LISTEN/NOTIFY,
// a denial, and a query cancelled (its own CancelRequest). Prints one summary line.
const postgres = require('postgres');
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');

const [port, password, database] = process.argv.slice(2);

async function main() {
  const sql = postgres({ host: '127.0.0.1', port: Number(port), user: 'alice', password, database,
    ssl: 'require', max: 2, onnotice: () => {} });
  const out = [];
  const [row] = await sql`INSERT INTO t ${sql({ name: 'one', tags: ['a', 'b'], data: Buffer.from([0, 255]) })} RETURNING id`;
  const [back] = await sql`SELECT name, tags, data FROM t WHERE id = ${row.id}`;
  out.push(`row=${back.name}:${back.tags.join(',')}:${back.data.length}`);
  const counts = await sql.begin(async (tx) => {
    const a = tx`INSERT INTO t (name) VALUES ('two')`;
    const b = tx`INSERT INTO t (name) VALUES ('three')`;
    await Promise.all([a, b]);
    try {
      await tx.savepoint((sp) => sp`INSERT INTO t (id, name) VALUES (${row.id}, 'dup')`);
    } catch (e) {
      out.push(`savepoint=${e.code}`);
    }
    return tx`SELECT count(*)::int AS n FROM t`;
  });
  out.push(`tx=${counts[0].n}`);
  const copy = await sql`COPY t (name) FROM STDIN`.writable();
  await pipeline(Readable.from(['four\n', 'five\n']), copy);
  let seen = 0;
  await sql`SELECT id FROM t ORDER BY id`.cursor(2, (rows) => { seen += rows.length; });
  out.push(`cursor=${seen}`);
  let notified;
  const got = new Promise((resolve) => { notified = resolve; });
  await sql.listen('ch', (payload) => notified(payload));
  await sql.notify('ch', 'hi');
  out.push(`notify=${await got}`);
  try {
    await sql`CREATE ROLE someone`;
  } catch (e) {
    out.push(`denied=${e.code}`);
  }
  const started = Date.now();
  const sleeping = sql`SELECT pg_sleep(30)`;
  setTimeout(() => sleeping.cancel(), 300);
  try {
    await sleeping;
  } catch (e) {
    out.push(`cancelled=${e.code},${Date.now() - started < 10000}`);
  }
  const [{ n }] = await sql`SELECT count(*)::int AS n FROM t`;
  out.push(`rows=${n}`);
  await sql.end();
  console.log(out.join(' '));
}
main().catch((e) => { console.error(e); process.exit(1); });
