// lib/pq (Go, under database/sql), its own implementation of PostgreSQL's protocol, through
// dbward: a ping, parameters, a prepared statement reused, arrays, COPY FROM STDIN in a transaction, a
// denial, a listener on its own connection, and a query cancelled by its context (lib/pq sends
// a CancelRequest and keeps the connection). Prints one summary line.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lib/pq"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func sqlstate(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return string(pqErr.Code)
	}
	return fmt.Sprintf("not a server error: %v", err)
}

func main() {
	ctx := context.Background()
	conninfo := os.Args[1]
	db, err := sql.Open("postgres", conninfo)
	must(err)
	db.SetMaxOpenConns(1) // one session, so the cancelled query's connection is reused after
	must(db.PingContext(ctx)) // lib/pq pings with the query `;`
	out := []string{}

	var id int
	must(db.QueryRow("INSERT INTO t (name, tags) VALUES ($1, $2) RETURNING id",
		"one", pq.Array([]string{"a", "b"})).Scan(&id))
	byID, err := db.Prepare("SELECT name, tags FROM t WHERE id = $1")
	must(err)
	var name string
	var tags []string
	for i := 0; i < 3; i++ {
		must(byID.QueryRow(id).Scan(&name, pq.Array(&tags)))
	}
	must(byID.Close())
	out = append(out, fmt.Sprintf("row=%s:%s", name, strings.Join(tags, ",")))

	tx, err := db.Begin()
	must(err)
	copyIn, err := tx.Prepare(pq.CopyIn("t", "name"))
	must(err)
	for _, n := range []string{"two", "three\ttab", `back\slash`} {
		_, err = copyIn.Exec(n)
		must(err)
	}
	_, err = copyIn.Exec()
	must(err)
	must(copyIn.Close())
	must(tx.Commit())
	var copied int
	must(db.QueryRow(`SELECT count(*) FROM t WHERE name IN ('two', E'three\ttab', 'back\slash')`).Scan(&copied))
	out = append(out, fmt.Sprintf("copied=%d", copied))

	_, err = db.Exec("CREATE ROLE someone")
	out = append(out, "denied="+sqlstate(err))

	listener := pq.NewListener(conninfo, time.Second, time.Second, nil)
	must(listener.Listen("ch"))
	_, err = db.Exec("SELECT pg_notify('ch', 'hi')")
	must(err)
	select {
	case n := <-listener.Notify:
		out = append(out, "notify="+n.Extra)
	case <-time.After(10 * time.Second):
		out = append(out, "notify=none")
	}
	must(listener.Close())

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	started := time.Now()
	_, err = db.ExecContext(short, "SELECT pg_sleep(30)")
	cancel()
	out = append(out, fmt.Sprintf("cancelled=%s,%v", sqlstate(err), time.Since(started) < 10*time.Second))
	var count int
	must(db.QueryRow("SELECT count(*) FROM t").Scan(&count))
	out = append(out, fmt.Sprintf("rows=%d", count))
	must(db.Close())
	fmt.Println(strings.Join(out, " "))
}
