<?php
// PHP's pgsql extension (libpq underneath) and PDO's pgsql driver through dbward: parameters,
// a named prepared statement, COPY both ways (PDO sends `COPY t TO STDIN`, which PostgreSQL
// reads as COPY to the client), a failed transaction rolled back, LISTEN/NOTIFY, a large
// object refused (libpq's fast path, FunctionCall) and a denial, the session going on after
// each. Prints one summary line.
[, $conninfo] = $argv;
$c = pg_connect($conninfo);
$out = [];
$r = pg_query_params($c, 'INSERT INTO t (name, data) VALUES ($1, $2) RETURNING id',
    ['one', pg_escape_bytea($c, "\x00\xff")]);
$out[] = 'id=' . pg_fetch_result($r, 0, 0);
pg_prepare($c, 'by_id', 'SELECT name, length(data) FROM t WHERE id = $1');
$out[] = 'named=' . implode(':', pg_fetch_row(pg_execute($c, 'by_id', [1])));
pg_copy_from($c, 't (name)', ["two\n", "three\n"]);
$out[] = 'copied=' . count(pg_copy_to($c, 't'));
pg_query($c, 'BEGIN');
@pg_query($c, 'SELECT 1/0');
$failed = pg_transaction_status($c) === PGSQL_TRANSACTION_INERROR;
pg_query($c, 'ROLLBACK');
$out[] = 'failed=' . ($failed ? 'yes' : 'no');
pg_query($c, 'LISTEN ch');
pg_query($c, "NOTIFY ch, 'hi'");
$out[] = 'notify=' . pg_get_notify($c)['payload'];
pg_query($c, 'BEGIN');
$lo = @pg_lo_create($c);
pg_query($c, 'ROLLBACK');
$out[] = 'lo=' . ($lo === false ? 'refused' : 'created');
pg_send_query($c, 'CREATE ROLE someone');
$out[] = 'denied=' . pg_result_error_field(pg_get_result($c), PGSQL_DIAG_SQLSTATE);
while (pg_get_result($c)) {
}
$out[] = 'after=' . pg_fetch_result(pg_query($c, 'SELECT count(*) FROM t'), 0, 0);

$pdo = new PDO('pgsql:' . str_replace(' ', ';', $conninfo), null, null,
    [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, false);
$q = $pdo->prepare('SELECT name FROM t WHERE id = :id');
$q->execute(['id' => 1]);
$pdo->pgsqlCopyFromArray('t', ["100\tfour\t\\N"]);
$rows = $pdo->pgsqlCopyToArray('t');
try {
    $pdo->exec('CREATE ROLE someone');
    $pdenied = 'no';
} catch (PDOException $e) {
    $pdenied = $e->getCode();
}
$out[] = 'pdo=' . $q->fetchColumn() . ':' . count($rows) . ':' . $pdenied;
echo implode(' ', $out), "\n";
