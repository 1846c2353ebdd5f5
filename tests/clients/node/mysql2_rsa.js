// mysql2 without TLS through dbward: caching_sha2_password's full authentication with dbward's
// RSA key, asked for (`allowPublicKeyRetrieval`: mysql2 refuses to ask by default, as anyone on
// the path could substitute a key) or given beforehand (`serverPublicKey`). Arguments: dbward
// port, password, public key PEM file. Prints one line.
const fs = require('fs');
const mysql = require('mysql2/promise');
const [port, password, keyFile] = process.argv.slice(2);

async function login(options) {
  const c = await mysql.createConnection({ host: '127.0.0.1', port: Number(port), user: 'alice',
    password, database: 'shop', ...options });
  const [rows] = await c.query('SELECT 6 * 7 AS v');
  await c.end();
  return rows[0].v;
}

(async () => {
  const asked = await login({ allowPublicKeyRetrieval: true });
  const given = await login({ serverPublicKey: fs.readFileSync(keyFile, 'utf8') });
  console.log(`mysql2 asked=${asked} given=${given}`);
})().catch((e) => { console.log(`mysql2 error ${e.errno}: ${e.message}`); process.exit(1); });
