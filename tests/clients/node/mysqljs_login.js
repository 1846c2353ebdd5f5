// The `mysql` package from npm (mysqljs, Node's original MySQL driver), which speaks
// mysql_native_password only: logs in through dbward (over TLS when asked) and runs one query.
// Prints `ok:<result>` or `error:<code>`; exits 0 either way.
//
// Arguments: port, user, password, database, `tls` or `plain`, and the host (default
// 127.0.0.1).
const mysql = require('mysql');

const [port, user, password, database, mode, host = '127.0.0.1'] = process.argv.slice(2);
const connection = mysql.createConnection({
  host, port: Number(port), user, password, database,
  ssl: mode === 'tls' ? { rejectUnauthorized: false } : undefined,
});
connection.query('SELECT CONCAT(CURRENT_USER(), \' \', @@session.tx_read_only) AS who', (err, rows) => {
  if (err) {
    console.log(`error:${err.code}`);
    connection.destroy();
    return;
  }
  console.log(`ok:${rows[0].who}`);
  connection.end();
});
