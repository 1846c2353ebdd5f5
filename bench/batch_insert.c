/* One batch insert through MariaDB's Connector/C, timed: ROWS rows into `t (id, name)` in one
 * array-bound execution (MODE bulk: COM_STMT_BULK_EXECUTE where the server offers it) or one
 * execution per row (MODE rows), in a transaction. Prints the seconds it took.
 * Usage: batch_insert PORT USER PASSWORD DATABASE ROWS MODE [tls] */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const char *error) {
    fprintf(stderr, "%s: %s\n", what, error);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 7) die("usage", "batch_insert PORT USER PASSWORD DATABASE ROWS MODE [tls]");
    unsigned int rows = (unsigned int)atoi(argv[5]);
    int bulk = strcmp(argv[6], "bulk") == 0;
    MYSQL *m = mysql_init(NULL);
    if (argc > 7) {
        my_bool verify = 0, enforce = 1;
        mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &enforce);
    }
    if (!mysql_real_connect(m, "127.0.0.1", argv[2], argv[3], argv[4], atoi(argv[1]), NULL, 0))
        die("connect", mysql_error(m));
    int *ids = calloc(rows, sizeof *ids);
    char **names = calloc(rows, sizeof *names);
    char *indicators = calloc(rows, 1);
    for (unsigned int i = 0; i < rows; i++) {
        ids[i] = (int)i + 1;
        names[i] = malloc(24);
        snprintf(names[i], 24, "row number %u", i + 1);
        indicators[i] = STMT_INDICATOR_NTS;
    }
    MYSQL_STMT *st = mysql_stmt_init(m);
    const char *sql = "INSERT INTO t (id, name) VALUES (?, ?)";
    if (mysql_stmt_prepare(st, sql, strlen(sql))) die("prepare", mysql_stmt_error(st));
    MYSQL_BIND bind[2];
    memset(bind, 0, sizeof bind);
    bind[0].buffer_type = MYSQL_TYPE_LONG;
    bind[1].buffer_type = MYSQL_TYPE_STRING;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    if (mysql_query(m, "BEGIN")) die("begin", mysql_error(m));
    if (bulk) {
        mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &rows);
        bind[0].buffer = ids;
        bind[1].buffer = names;
        bind[1].u.indicator = indicators;
        if (mysql_stmt_bind_param(st, bind)) die("bind", mysql_stmt_error(st));
        if (mysql_stmt_execute(st)) die("execute", mysql_stmt_error(st));
    } else {
        unsigned long length;
        bind[1].length = &length;
        for (unsigned int i = 0; i < rows; i++) {
            bind[0].buffer = &ids[i];
            bind[1].buffer = names[i];
            length = strlen(names[i]);
            if (mysql_stmt_bind_param(st, bind)) die("bind", mysql_stmt_error(st));
            if (mysql_stmt_execute(st)) die("execute", mysql_stmt_error(st));
        }
    }
    if (mysql_query(m, "COMMIT")) die("commit", mysql_error(m));
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("%.4f\n", (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
    mysql_stmt_close(st);
    mysql_close(m);
    return 0;
}
