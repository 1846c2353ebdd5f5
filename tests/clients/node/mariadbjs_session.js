// MariaDB's own Node.js connector (npm `mariadb`), its own implementation of the protocol,
// through dbward: commands pipelined on one connection, server-side prepared statements
// (`execute`), a batch insert, a streamed result, a
// transaction rolled back, a denial, and a pool. Prints one summary line.
const mariadb = require('mariadb');

const [port, password, database] = process.argv.slice(2);

async function main() {
  const options = { host: '127.0.0.1', port: Number(port), user: 'alice', password, database,
    ssl: { rejectUnauthorized: false }, pipelining: true };
  const conn = await mariadb.createConnection(options);
  const out = [];
  const [a, b] = await Promise.all([
    conn.query('INSERT INTO t (id, name) VALUES (?, ?)', [1, 'one']),
    conn.query('INSERT INTO t (id, name) VALUES (?, ?)', [2, 'two']),
  ]);
  out.push(`pipelined=${a.affectedRows + b.affectedRows}`);
  const rows = await conn.execute('SELECT name FROM t WHERE id = ?', [2]);
  out.push(`execute=${rows[0].name}`);
  const batch = await conn.batch('INSERT INTO t (id, name) VALUES (?, ?)',
    Array.from({ length: 100 }, (_, i) => [i + 10, `n${i}`]));
  // One result (COM_STMT_BULK_EXECUTE, where dbward speaks as MariaDB and offers it) or one per
  // row (elsewhere the connector executes the statement once per row).
  const inserted = Array.isArray(batch)
    ? batch.reduce((n, r) => n + r.affectedRows, 0) : batch.affectedRows;
  out.push(`batch=${inserted}`);
  let streamed = 0;
  await new Promise((resolve, reject) => {
    conn.queryStream('SELECT id FROM t').on('data', () => { streamed += 1; })
      .on('error', reject).on('end', resolve);
  });
  out.push(`stream=${streamed}`);
  await conn.beginTransaction();
  await conn.query("DELETE FROM t");
  await conn.rollback();
  try {
    await conn.query('DROP TABLE t');
  } catch (e) {
    out.push(`denied=${e.errno}`);
  }
  const pool = mariadb.createPool({ ...options, connectionLimit: 2 });
  const counts = await Promise.all([1, 2, 3].map(() => pool.query('SELECT COUNT(*) AS n FROM t')));
  out.push(`pool=${counts.map((r) => Number(r[0].n)).join(',')}`);
  await pool.end();
  await conn.end();
  console.log(out.join(' '));
}
main().catch((e) => { console.error(e); process.exit(1); });
