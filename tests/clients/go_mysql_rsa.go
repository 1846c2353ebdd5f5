// go-sql-driver/mysql without TLS through dbward: caching_sha2_password's full authentication
// asks for dbward's RSA key, or, given the public key beforehand (serverPubKey), encrypts the
// password with it at once. Arguments: PORT PASSWORD PUBLIC_KEY_PEM_FILE. Prints one line.
package main

import (
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/go-sql-driver/mysql"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func query(dsn string) int {
	db, err := sql.Open("mysql", dsn)
	must(err)
	defer db.Close()
	var v int
	must(db.QueryRow("SELECT 6 * 7").Scan(&v))
	return v
}

func main() {
	port, password, keyFile := os.Args[1], os.Args[2], os.Args[3]
	dsn := fmt.Sprintf("alice:%s@tcp(127.0.0.1:%s)/shop", password, port)
	asked := query(dsn)

	data, err := os.ReadFile(keyFile)
	must(err)
	block, _ := pem.Decode(data)
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	must(err)
	mysql.RegisterServerPubKey("dbward", key.(*rsa.PublicKey))
	given := query(dsn + "?serverPubKey=dbward")
	fmt.Printf("go asked=%d given=%d\n", asked, given)
}
