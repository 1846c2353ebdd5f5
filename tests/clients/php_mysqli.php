<?php
// PHP's own MySQL driver (mysqlnd, under mysqli and PDO; not libmariadb) through dbward: TLS and
// caching_sha2_password, native prepared statements with long data sent in pieces, a
// server-side cursor read one row at a time (COM_STMT_FETCH), several results from one query
// and from a prepared CALL, an unbuffered result, LOAD DATA LOCAL, COM_CHANGE_USER, a denial
// and the session going on, then PDO with native and emulated prepares. Prints one summary line.
mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
[, $port, $password, $csv, $cert] = $argv;
$port = (int) $port;
$m = mysqli_init();
$m->options(MYSQLI_OPT_LOCAL_INFILE, true);
$m->real_connect('127.0.0.1', 'alice', $password, 'shop', $port, null,
    MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_DONT_VERIFY_SERVER_CERT);
$out = [];

$s = $m->prepare('INSERT INTO t (id, name, data) VALUES (?, ?, ?)');
$id = 1; $name = 'long'; $none = null;
$s->bind_param('isb', $id, $name, $none);
$s->send_long_data(2, str_repeat('a', 100000));
$s->send_long_data(2, str_repeat('b', 100000));
$s->execute();
$out[] = 'long=' . $m->query('SELECT LENGTH(data) FROM t WHERE id = 1')->fetch_row()[0];

$m->query("INSERT INTO t (id, name) VALUES (2, 'two'), (3, 'three'), (4, 'four')");
$s = $m->prepare('SELECT id FROM t WHERE id > ? ORDER BY id');
$s->attr_set(MYSQLI_STMT_ATTR_CURSOR_TYPE, MYSQLI_CURSOR_TYPE_READ_ONLY);
$s->attr_set(MYSQLI_STMT_ATTR_PREFETCH_ROWS, 1);
$from = 1;
$s->bind_param('i', $from);
$s->execute();
$s->bind_result($got);
$ids = [];
while ($s->fetch()) {
    $ids[] = $got;
}
$out[] = 'cursor=' . implode(',', $ids);

$m->multi_query('SELECT 1; SELECT 2, 3; DO 0');
$sets = 0;
do {
    if ($r = $m->store_result()) {
        $sets++;
        $r->free();
    }
} while ($m->more_results() && $m->next_result());
$m->query('CREATE PROCEDURE two_sets() BEGIN SELECT 1 AS a; SELECT 2 AS b; END');
$s = $m->prepare('CALL two_sets()');
$s->execute();
do {
    if ($r = $s->get_result()) {
        $sets++;
    }
} while ($s->more_results() && $s->next_result());
$out[] = "sets=$sets";

$r = $m->query('SELECT seq FROM seq_1_to_50000', MYSQLI_USE_RESULT);
$n = 0;
while ($r->fetch_row()) {
    $n++;
}
$r->free();
$out[] = "unbuffered=$n";

$m->query("LOAD DATA LOCAL INFILE '$csv' INTO TABLE t FIELDS TERMINATED BY ',' (id, name)");
$out[] = 'loaded=' . $m->affected_rows;

try {
    $m->query("CREATE USER someone IDENTIFIED BY 'x'");
    $out[] = 'not denied';
} catch (mysqli_sql_exception $e) {
    $out[] = 'denied=' . $e->getCode();
}
$m->change_user('alice', $password, 'shop');
$out[] = 'changed=' . $m->query('SELECT COUNT(*) FROM t')->fetch_row()[0];
$m->close();

$pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=shop;charset=utf8mb4", 'alice', $password, [
    PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
    PDO::MYSQL_ATTR_SSL_CA => $cert,
    PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => false,
]);
$names = [];
foreach ([false, true] as $emulated) {
    $pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, $emulated);
    $q = $pdo->prepare('SELECT name FROM t WHERE id = :id');
    $q->execute(['id' => 2]);
    $names[] = $q->fetchColumn();
}
$pdo->beginTransaction();
$pdo->exec("INSERT INTO t (id, name) VALUES (99, 'rolled back')");
$pdo->rollBack();
$out[] = 'pdo=' . implode(',', $names) . ':' . $pdo->query('SELECT COUNT(*) FROM t')->fetchColumn();
echo implode(' ', $out), "\n";
