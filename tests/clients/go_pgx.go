// pgx (v4, Go), its own implementation of PostgreSQL's protocol, through dbward: the extended
// protocol with its statement cache and binary formats, a binary COPY FROM, a pipelined batch
// with an error in the middle, a savepoint rolled back, LISTEN/NOTIFY, a denial, the simple
// protocol with client-side interpolation, TLS, and a context deadline mid-query (pgx then
// sends a CancelRequest and drops the connection). Prints one summary line.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func sqlstate(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return fmt.Sprintf("not a server error: %v", err)
}

func main() {
	ctx := context.Background()
	conninfo := os.Args[1]
	conn, err := pgx.Connect(ctx, conninfo)
	must(err)
	out := []string{}

	at := time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	var id int
	must(conn.QueryRow(ctx, "INSERT INTO t (name, data, at, tags) VALUES ($1, $2, $3, $4) RETURNING id",
		"one", []byte{0, 255}, at, []string{"a", "b"}).Scan(&id))
	var name string
	var size int
	var back time.Time
	var tags []string
	for i := 0; i < 3; i++ { // prepared once, then executed from pgx's statement cache
		must(conn.QueryRow(ctx, "SELECT name, length(data), at, tags FROM t WHERE id = $1", id).
			Scan(&name, &size, &back, &tags))
	}
	out = append(out, fmt.Sprintf("row=%s:%d:%s:%s", name, size, back.UTC().Format("15:04"), strings.Join(tags, ",")))

	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"name", "data", "at", "tags"},
		pgx.CopyFromRows([][]interface{}{
			{"two", []byte{1}, at, []string{}},
			{"three", nil, at.Add(time.Hour), []string{"c"}},
		}))
	must(err)
	out = append(out, fmt.Sprintf("copied=%d", copied))

	batch := &pgx.Batch{}
	batch.Queue("SELECT count(*) FROM t")
	batch.Queue("SELECT 1/0")
	batch.Queue("INSERT INTO t (name) VALUES ('never')")
	results := conn.SendBatch(ctx, batch)
	var count int
	must(results.QueryRow().Scan(&count))
	_, err1 := results.Exec()
	_, err2 := results.Exec()
	errClose := results.Close() // the batch's first error again
	out = append(out, fmt.Sprintf("batch=%d,%s,%v,%s", count, sqlstate(err1), err2 != nil, sqlstate(errClose)))

	tx, err := conn.Begin(ctx)
	must(err)
	_, err = tx.Exec(ctx, "INSERT INTO t (name) VALUES ('four')")
	must(err)
	nested, err := tx.Begin(ctx) // a savepoint
	must(err)
	_, err = nested.Exec(ctx, "INSERT INTO t (id, name) VALUES ($1, 'duplicate')", id)
	out = append(out, "savepoint="+sqlstate(err))
	must(nested.Rollback(ctx))
	must(tx.Commit(ctx))

	_, err = conn.Exec(ctx, "CREATE ROLE someone")
	out = append(out, "denied="+sqlstate(err))

	_, err = conn.Exec(ctx, "LISTEN ch")
	must(err)
	_, err = conn.Exec(ctx, "SELECT pg_notify('ch', $1)", "hi")
	must(err)
	note, err := conn.WaitForNotification(ctx)
	must(err)
	out = append(out, "notify="+note.Payload)

	simpleConfig, err := pgx.ParseConfig(conninfo + " sslmode=require")
	must(err)
	simpleConfig.PreferSimpleProtocol = true
	simple, err := pgx.ConnectConfig(ctx, simpleConfig)
	must(err)
	var quoted string
	must(simple.QueryRow(ctx, "SELECT $1::text", `it's a \ backslash`).Scan(&quoted))
	_, isTLS := simple.PgConn().Conn().(*tls.Conn)
	out = append(out, fmt.Sprintf("simple=%v tls=%v", quoted == `it's a \ backslash`, isTLS))

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	started := time.Now()
	_, err = conn.Exec(short, "SELECT pg_sleep(30)")
	cancel()
	out = append(out, fmt.Sprintf("deadline=%v,%v", err != nil, time.Since(started) < 10*time.Second))
	// The cancelled query must not go on upstream; dbward's session for `conn` is gone too.
	deadline := time.Now().Add(10 * time.Second)
	var sleeping int
	for {
		must(simple.QueryRow(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'").
			Scan(&sleeping))
		if sleeping == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	out = append(out, fmt.Sprintf("sleeping=%d", sleeping))
	must(simple.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&count))
	out = append(out, fmt.Sprintf("rows=%d", count))
	must(simple.Close(ctx))
	fmt.Println(strings.Join(out, " "))
}
