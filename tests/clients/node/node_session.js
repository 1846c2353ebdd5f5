// node-postgres (`pg`) or mysql2 through dbward under a `write` grant, against a table `t (id,
// name, data)` the test created upstream: parameterized inserts, a named prepared statement
// run twice (pg) or `execute` (mysql2's binary protocol), a denied statement and the session
// going on, a rolled-back transaction, several statements in one query (pg) or a streamed
// result (mysql2), and a pool of 4 connections running 20 queries at once. Arguments: pg|mysql,
// dbward port, password, dbward database name. Prints one summary line.
const [engine, port, password, database] = process.argv.slice(2);
const common = { host: '127.0.0.1', port: Number(port), user: 'alice', password, database,
  ssl: { rejectUnauthorized: false } };

async function pgSession() {
  const { Client, Pool } = require('pg');
  const c = new Client({ ...common, application_name: 'node' });
  await c.connect();
  for (let i = 0; i < 5; i++) {
    await c.query('INSERT INTO t (name, data) VALUES ($1, $2)', [`n${i}`, { i }]);
  }
  const sum = await c.query('SELECT count(*)::int AS c, sum((data->>$1)::int)::int AS s FROM t', ['i']);
  const a = await c.query({ name: 'by_id', text: 'SELECT name FROM t WHERE id = $1', values: [2] });
  const b = await c.query({ name: 'by_id', text: 'SELECT name FROM t WHERE id = $1', values: [3] });
  let denied = 'not denied';
  try { await c.query('DROP TABLE t'); } catch (e) { denied = `denied ${e.code}`; }
  await c.query('BEGIN');
  await c.query('INSERT INTO t (name) VALUES ($1)', ['rolled back']);
  await c.query('ROLLBACK');
  const multi = await c.query('SELECT 1 AS a; SELECT count(*)::int AS n FROM t');
  await c.end();
  const pool = new Pool({ ...common, max: 4 });
  const all = await Promise.all([...Array(20).keys()].map((i) => pool.query('SELECT $1::int * 2 AS d', [i])));
  await pool.end();
  return `count=${sum.rows[0].c} sum=${sum.rows[0].s} named=${a.rows[0].name},${b.rows[0].name} ` +
    `${denied} rows=${multi[1].rows[0].n} pool=${all.reduce((s, r) => s + r.rows[0].d, 0)}`;
}

async function mysqlSession() {
  const mysql = require('mysql2/promise');
  const c = await mysql.createConnection(common);
  for (let i = 0; i < 5; i++) {
    await c.execute('INSERT INTO t (name, data) VALUES (?, ?)', [`n${i}`, JSON.stringify({ i })]);
  }
  const [[sum]] = await c.execute(
    'SELECT COUNT(*) AS c, SUM(JSON_EXTRACT(data, ?)) AS s FROM t WHERE id > ?', ['$.i', 0]);
  const [[a]] = await c.execute('SELECT name FROM t WHERE id = ?', [2]);
  const [[b]] = await c.query('SELECT name FROM t WHERE id = ?', [3]);
  let denied = 'not denied';
  try { await c.execute('DROP TABLE t'); } catch (e) { denied = `denied ${e.errno}`; }
  await c.beginTransaction();
  await c.execute('INSERT INTO t (name) VALUES (?)', ['rolled back']);
  await c.rollback();
  let streamed = 0;
  for await (const _ of c.connection.query('SELECT id FROM t').stream()) streamed++;
  await c.end();
  const pool = mysql.createPool({ ...common, connectionLimit: 4 });
  const all = await Promise.all([...Array(20).keys()].map((i) => pool.execute('SELECT ? * 2 AS d', [i])));
  await pool.end();
  return `count=${sum.c} sum=${Number(sum.s)} named=${a.name},${b.name} ${denied} ` +
    `rows=${streamed} pool=${all.reduce((s, [r]) => s + Number(r[0].d), 0)}`;
}

(engine === 'pg' ? pgSession() : mysqlSession())
  .then((line) => console.log(line))
  .catch((e) => { console.error(e); process.exit(1); });
