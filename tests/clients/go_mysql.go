// go-sql-driver/mysql (Go, under database/sql), its own implementation of MySQL's protocol,
// through dbward: caching_sha2_password over TLS and, without TLS, its fast path;
// server-side prepared statements (binary rows, DATETIME parsed) and client-side
// interpolation; several statements in one query; LOAD DATA LOCAL INFILE of a registered
// file; a read-only transaction; a denial; and a query whose context ends (the driver closes
// the connection: dbward must stop the upstream query). Prints one summary line.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func code(err error) string {
	var my *mysql.MySQLError
	if errors.As(err, &my) {
		return fmt.Sprint(my.Number)
	}
	return fmt.Sprintf("not a server error: %v", err)
}

func main() {
	ctx := context.Background()
	port, password, file := os.Args[1], os.Args[2], os.Args[3]
	dsn := func(params string) string {
		return fmt.Sprintf("alice:%s@tcp(127.0.0.1:%s)/shop?%s", password, port, params)
	}
	out := []string{}

	// TLS (the driver fails the connection if the server does not offer it), then
	// caching_sha2_password's full authentication sends the password in clear over it.
	db, err := sql.Open("mysql", dsn("tls=skip-verify&parseTime=true"))
	must(err)
	db.SetMaxOpenConns(1)
	at := time.Date(2026, 12, 7, 10, 30, 15, 0, time.UTC)
	insert, err := db.Prepare("INSERT INTO t (id, name, at, data) VALUES (?, ?, ?, ?)")
	must(err)
	for i := 1; i <= 3; i++ {
		_, err = insert.Exec(i, fmt.Sprintf("n%d", i), at.Add(time.Duration(i)*time.Minute), []byte{0, byte(i), 255})
		must(err)
	}
	must(insert.Close())
	var name string
	var back time.Time
	var data []byte
	must(db.QueryRow("SELECT name, at, data FROM t WHERE id = ?", 2).Scan(&name, &back, &data))
	out = append(out, fmt.Sprintf("prepared=%s:%s:%d", name, back.Format("15:04:05"), len(data)))

	_, err = db.Exec("DROP TABLE t")
	out = append(out, "denied="+code(err))

	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	must(err)
	var count int
	must(tx.QueryRow("SELECT COUNT(*) FROM t").Scan(&count))
	_, err = tx.Exec("UPDATE t SET name = 'x'")
	out = append(out, fmt.Sprintf("read_only_tx=%d:%s", count, code(err)))
	must(tx.Rollback())

	// Without TLS: the fast path, from loopback, as the login over TLS above is remembered
	// (with nothing remembered the driver would ask for dbward's RSA key).
	plain, err := sql.Open("mysql", dsn("interpolateParams=true&multiStatements=true"))
	must(err)
	plain.SetMaxOpenConns(1)
	mysql.RegisterLocalFile(file)
	res, err := plain.Exec(fmt.Sprintf("LOAD DATA LOCAL INFILE '%s' INTO TABLE t FIELDS TERMINATED BY ','", file))
	must(err)
	loaded, err := res.RowsAffected()
	must(err)
	out = append(out, fmt.Sprintf("loaded=%d", loaded))
	must(plain.QueryRow("SELECT name FROM t WHERE name = ?", `it's \ here`).Scan(&name))
	out = append(out, fmt.Sprintf("interpolated=%v", name == `it's \ here`))
	rows, err := plain.Query("UPDATE t SET name = 'multi' WHERE id = 1; SELECT name FROM t WHERE id = 1")
	must(err)
	sets := 0
	for {
		for rows.Next() {
			must(rows.Scan(&name))
		}
		sets++
		if !rows.NextResultSet() {
			break
		}
	}
	must(rows.Err())
	must(rows.Close())
	out = append(out, fmt.Sprintf("multi=%d:%s", sets, name))

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	started := time.Now()
	_, err = plain.ExecContext(short, "SELECT SLEEP(30)")
	cancel()
	out = append(out, fmt.Sprintf("deadline=%v,%v", err != nil, time.Since(started) < 10*time.Second))
	deadline := time.Now().Add(10 * time.Second)
	var sleeping int
	for {
		must(db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'").
			Scan(&sleeping))
		if sleeping == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	out = append(out, fmt.Sprintf("sleeping=%d", sleeping))
	must(plain.QueryRow("SELECT COUNT(*) FROM t").Scan(&count))
	out = append(out, fmt.Sprintf("rows=%d", count))
	must(plain.Close())
	must(db.Close())
	fmt.Println(strings.Join(out, " "))
}
