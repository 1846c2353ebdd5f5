// The `mysql` package from npm (mysqljs, Node's original MySQL driver), which speaks
// mysql_native_password only: logs in through dbward (over TLS when asked), runs one query,
// resets the session with COM_CHANGE_USER (`changeUser`, same user and database) and runs it
// again. Prints `ok:<result>` or `error:<code>` (`error:change:<code>` when only the reset
// failed); exits 0 either way.
//
// Arguments: port, user, password, database, `tls` or `plain`, and the host (default
// 127.0.0.1).
const mysql = require('mysql');

const [port, user, password, database, mode, host = '127.0.0.1'] = process.argv.slice(2);
const connection = mysql.createConnection({
  host, port: Number(port), user, password, database,
  ssl: mode === 'tls' ? { rejectUnauthorized: false } : undefined,
});
const who = 'SELECT CONCAT(CURRENT_USER(), \' \', @@session.tx_read_only) AS who';

function fail(prefix, err) {
  console.log(`error:${prefix}${err.code}`);
  connection.destroy();
}

connection.query(who, (err) => {
  if (err) {
    fail('', err);
    return;
  }
  connection.changeUser({ user, password, database }, (changeErr) => {
    if (changeErr) {
      fail('change:', changeErr);
      return;
    }
    connection.query(who, (againErr, rows) => {
      if (againErr) {
        fail('change:', againErr);
        return;
      }
      console.log(`ok:${rows[0].who}`);
      connection.end();
    });
  });
});
