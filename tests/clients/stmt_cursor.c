/* libmariadb through dbward over TLS: a server-side cursor read in COM_STMT_FETCH batches
 * (STMT_ATTR_CURSOR_TYPE, STMT_ATTR_PREFETCH_ROWS) and COM_FIELD_LIST (mysql_list_fields, as
 * mysqlshow --count sends it). Prints one summary line; exits non-zero on any error.
 * Usage: stmt_cursor PORT PASSWORD */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *error) {
    fprintf(stderr, "%s: %s\n", what, error);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage", "stmt_cursor PORT PASSWORD");
    MYSQL *m = mysql_init(NULL);
    my_bool verify = 0, enforce = 1;
    mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    if (!mysql_real_connect(m, "127.0.0.1", "alice", argv[2], "shop", atoi(argv[1]), NULL, 0))
        die("connect", mysql_error(m));

    MYSQL_STMT *st = mysql_stmt_init(m);
    const char *sql = "SELECT id FROM t WHERE id > ? ORDER BY id";
    if (mysql_stmt_prepare(st, sql, strlen(sql))) die("prepare", mysql_stmt_error(st));
    unsigned long cursor = CURSOR_TYPE_READ_ONLY, prefetch = 3;
    mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &cursor);
    mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);
    int above = 0, id = 0;
    MYSQL_BIND param, column;
    memset(&param, 0, sizeof param);
    param.buffer_type = MYSQL_TYPE_LONG;
    param.buffer = &above;
    if (mysql_stmt_bind_param(st, &param)) die("bind", mysql_stmt_error(st));
    memset(&column, 0, sizeof column);
    column.buffer_type = MYSQL_TYPE_LONG;
    column.buffer = &id;
    long rows = 0, sum = 0;
    /* Twice: the cursor is opened, read to its end in batches of 3, and opened again. */
    for (int round = 0; round < 2; round++) {
        above = round;
        if (mysql_stmt_execute(st)) die("execute", mysql_stmt_error(st));
        if (mysql_stmt_bind_result(st, &column)) die("bind result", mysql_stmt_error(st));
        int r;
        while ((r = mysql_stmt_fetch(st)) == 0) {
            rows++;
            sum += id;
        }
        if (r != MYSQL_NO_DATA) die("fetch", mysql_stmt_error(st));
    }
    mysql_stmt_close(st);

    MYSQL_RES *fields = mysql_list_fields(m, "t", NULL);
    if (!fields) die("list fields", mysql_error(m));
    unsigned int n = mysql_num_fields(fields);
    MYSQL_FIELD *f = mysql_fetch_fields(fields);
    printf("rows=%ld sum=%ld fields=%u first=%s", rows, sum, n, n ? f[0].name : "-");
    mysql_free_result(fields);

    /* The session goes on after both. */
    if (mysql_query(m, "SELECT COUNT(*) FROM t")) die("query", mysql_error(m));
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = mysql_fetch_row(res);
    printf(" count=%s\n", row[0]);
    mysql_free_result(res);
    mysql_close(m);
    return 0;
}
