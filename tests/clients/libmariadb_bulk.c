/* What MariaDB's Connector/C adds to the protocol, through dbward over TLS:
 * - array binding (STMT_ATTR_ARRAY_SIZE): one COM_STMT_BULK_EXECUTE inserts every row, where
 *   the server (here dbward speaking as MariaDB) offers bulk execution;
 * - mariadb_stmt_execute_direct: COM_STMT_PREPARE and COM_STMT_EXECUTE sent together, the
 *   execution naming the statement -1 ("the one prepared last"); once with a statement dbward
 *   refuses at its prepare, after which the session must go on in step.
 * The last line says how many result sets the server sent without their column definitions
 * (MariaDB's cached metadata, where offered).
 * Where bulk execution is not offered, Connector/C refuses array binding itself (error 5003,
 * nothing sent) and the rows are not there.
 * Prints one line per step. Usage: libmariadb_bulk PORT PASSWORD ROWS */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static MYSQL *m;

static void die(const char *what, const char *error) {
    fprintf(stderr, "%s: %s\n", what, error);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 4) die("usage", "libmariadb_bulk PORT PASSWORD ROWS");
    unsigned int rows = (unsigned int)atoi(argv[3]);
    m = mysql_init(NULL);
    my_bool verify = 0, enforce = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    if (!mysql_real_connect(m, "127.0.0.1", "alice", argv[2], "shop", atoi(argv[1]), NULL, 0))
        die("connect", mysql_error(m));

    /* Column-wise array binding: ids, and names as NUL-terminated strings. */
    int *ids = calloc(rows, sizeof *ids);
    char **names = calloc(rows, sizeof *names);
    char *name_indicators = calloc(rows, 1);
    for (unsigned int i = 0; i < rows; i++) {
        ids[i] = (int)i + 1;
        names[i] = malloc(16);
        snprintf(names[i], 16, "n%u", i + 1);
        name_indicators[i] = STMT_INDICATOR_NTS;
    }
    MYSQL_STMT *st = mysql_stmt_init(m);
    const char *insert = "INSERT INTO t (id, name) VALUES (?, ?)";
    if (mysql_stmt_prepare(st, insert, strlen(insert))) die("prepare", mysql_stmt_error(st));
    mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &rows);
    MYSQL_BIND bind[2];
    memset(bind, 0, sizeof bind);
    bind[0].buffer_type = MYSQL_TYPE_LONG;
    bind[0].buffer = ids;
    bind[1].buffer_type = MYSQL_TYPE_STRING;
    bind[1].buffer = names;
    bind[1].u.indicator = name_indicators;
    if (mysql_stmt_bind_param(st, bind)) die("bind", mysql_stmt_error(st));
    if (mysql_stmt_execute(st))
        printf("bulk=error errno=%u\n", mysql_stmt_errno(st));
    else
        printf("bulk=%llu\n", (unsigned long long)mysql_stmt_affected_rows(st));
    mysql_stmt_close(st);

    /* Prepared and executed in one go (statement id -1). */
    st = mysql_stmt_init(m);
    int wanted = 5;
    MYSQL_BIND param;
    memset(&param, 0, sizeof param);
    param.buffer_type = MYSQL_TYPE_LONG;
    param.buffer = &wanted;
    unsigned int one = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_PREBIND_PARAMS, &one);
    if (mysql_stmt_bind_param(st, &param)) die("bind direct", mysql_stmt_error(st));
    const char *select = "SELECT name FROM t WHERE id = ?";
    if (mariadb_stmt_execute_direct(st, select, strlen(select)))
        die("execute direct", mysql_stmt_error(st));
    char out[16] = {0};
    unsigned long length = 0;
    MYSQL_BIND column;
    memset(&column, 0, sizeof column);
    column.buffer_type = MYSQL_TYPE_STRING;
    column.buffer = out;
    column.buffer_length = sizeof out - 1;
    column.length = &length;
    if (mysql_stmt_bind_result(st, &column)) die("bind direct result", mysql_stmt_error(st));
    int fetched = mysql_stmt_fetch(st);
    if (fetched == 1) die("fetch direct", mysql_stmt_error(st));
    printf("direct=%s\n", fetched == MYSQL_NO_DATA ? "none" : out);
    mysql_stmt_free_result(st);

    /* Refused at its prepare: the pipelined execution must not run anything (not the
     * statement above, still prepared, either), and the session goes on. */
    MYSQL_STMT *refused = mysql_stmt_init(m);
    const char *drop = "DROP TABLE t";
    if (mariadb_stmt_execute_direct(refused, drop, strlen(drop)))
        printf("direct_refused=%u\n", mysql_stmt_errno(refused));
    else
        printf("direct_refused=none\n");
    mysql_stmt_close(refused);
    mysql_stmt_close(st);
    if (mysql_query(m, "SELECT COUNT(*) FROM t")) die("count", mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    if (!res) die("count", mysql_error(m));
    MYSQL_ROW row = mysql_fetch_row(res);
    printf("count=%s\n", row[0]);
    mysql_free_result(res);

    /* How many result sets the server sent without their column definitions, on this session
     * (MariaDB's cached metadata: the direct execution's result, whose definitions came with
     * its prepare). */
    if (mysql_query(m, "SHOW SESSION STATUS LIKE 'Resultset_metadata_skipped'"))
        die("status", mysql_error(m));
    res = mysql_store_result(m);
    if (!res) die("status", mysql_error(m));
    row = mysql_fetch_row(res);
    printf("metadata_skipped=%s\n", row ? row[1] : "none");
    mysql_free_result(res);
    mysql_close(m);
    return 0;
}
