/* libpq's less common calls through dbward (TLS required): COPY FROM STDIN ended by the client
 * with an error (CopyFail), a prepared statement described (Describe 'S') and read row by row
 * (single-row mode), a cursor's portal described (Describe 'P'), binary results. Prints one line
 * per step; exits non-zero on any unexpected answer.
 * Usage: libpq_api CONNINFO */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PGconn *c;

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, PQerrorMessage(c));
    exit(1);
}

static void ok(PGresult *r, ExecStatusType want, const char *what) {
    if (PQresultStatus(r) != want) die(what);
    PQclear(r);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: libpq_api CONNINFO\n");
        return 1;
    }
    c = PQconnectdb(argv[1]);
    if (PQstatus(c) != CONNECTION_OK) die("connect");

    /* COPY abandoned by the client: an error, nothing written, the session goes on. */
    PGresult *r = PQexec(c, "COPY t (id) FROM STDIN");
    ok(r, PGRES_COPY_IN, "copy");
    if (PQputCopyData(c, "1\n2\n", 4) != 1 || PQputCopyEnd(c, "the file went away") != 1)
        die("copy data");
    r = PQgetResult(c);
    printf("copy_fail=%s %s\n", PQresStatus(PQresultStatus(r)),
           PQresultErrorField(r, PG_DIAG_SQLSTATE));
    PQclear(r);
    while ((r = PQgetResult(c))) PQclear(r);
    r = PQexec(c, "SELECT count(*) FROM t");
    printf("rows_after_copy_fail=%s\n", PQgetvalue(r, 0, 0));
    PQclear(r);

    /* A named prepared statement, described, then read in single-row mode. */
    ok(PQprepare(c, "ids", "SELECT id, id * 2 AS twice FROM generate_series(1, $1::int) AS id", 1,
                 NULL),
       PGRES_COMMAND_OK, "prepare");
    r = PQdescribePrepared(c, "ids");
    printf("describe_statement=params:%d fields:%d %s\n", PQnparams(r), PQnfields(r),
           PQfname(r, 1));
    PQclear(r);
    const char *n = "3";
    if (!PQsendQueryPrepared(c, "ids", 1, &n, NULL, NULL, 0) || !PQsetSingleRowMode(c))
        die("send prepared");
    int single = 0, sum = 0;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
            single++;
            sum += atoi(PQgetvalue(r, 0, 1));
        } else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            die("single row");
        }
        PQclear(r);
    }
    printf("single_rows=%d sum=%d\n", single, sum);

    /* A cursor is a portal: described by name, then fetched. */
    ok(PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin");
    ok(PQexec(c, "DECLARE cur CURSOR FOR SELECT 'x'::text AS letter, 42 AS answer"),
       PGRES_COMMAND_OK, "declare");
    r = PQdescribePortal(c, "cur");
    printf("describe_portal=fields:%d %s,%s\n", PQnfields(r), PQfname(r, 0), PQfname(r, 1));
    PQclear(r);
    r = PQexec(c, "FETCH ALL FROM cur");
    printf("fetch=%s\n", PQgetvalue(r, 0, 1));
    PQclear(r);
    ok(PQexec(c, "COMMIT"), PGRES_COMMAND_OK, "commit");

    /* Binary results: an int4 in network order. */
    r = PQexecParams(c, "SELECT 258::int4", 0, NULL, NULL, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQgetlength(r, 0, 0) != 4) die("binary");
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, 0, 0);
    printf("binary=%d\n", (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]);
    PQclear(r);
    PQfinish(c);
    return 0;
}
